export declare const README_PATH: string;
export interface ReadmeBlock {
  /** The markdown file it is in, relative to the repository root: README.md or docs/<guide>.md. */
  readonly file: string;
  /** 1-based line of the block's opening fence in that file. */
  readonly line: number;
  readonly code: string;
}
export declare function documentationFiles(): string[];
export declare function readmeTsBlocks(markdown?: string, file?: string): ReadmeBlock[];
export declare function documentationTsBlocks(): ReadmeBlock[];
export declare function exampleName(block: Pick<ReadmeBlock, 'file' | 'line'>): string;
export declare function writeReadmeExamples(dir: string, blocks?: readonly ReadmeBlock[]): string[];
