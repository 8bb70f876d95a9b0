export declare const README_PATH: string;
export interface ReadmeBlock {
  /** 1-based line of the block's opening fence in README.md. */
  readonly line: number;
  readonly code: string;
}
export declare function readmeTsBlocks(markdown?: string): ReadmeBlock[];
export declare function writeReadmeExamples(dir: string, blocks?: readonly ReadmeBlock[]): string[];
