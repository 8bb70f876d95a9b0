// Vite's `?raw` import of a snippet: the file's text (demo/code-snippets.ts shows it on the page).
declare module '*.ts?raw' {
  const source: string;
  export default source;
}
