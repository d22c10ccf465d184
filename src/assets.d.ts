// Bun's `with { type: 'file' }` imports resolve to the embedded file's path.
declare module '*.css' {
  const path: string;
  export default path;
}
declare module '*.png' {
  const path: string;
  export default path;
}
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  const path: string;
  export default path;
}
