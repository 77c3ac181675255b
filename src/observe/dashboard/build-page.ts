/**
 * Bundles the dashboard page (page/main.ts, its CSS and uPlot's) with Bun.build
 * into one self-contained HTML document on stdout: the server needs no files
 * at run time, so the compiled binary serves it as it serves from source.
 * Run by page-bundle.ts; `bun src/observe/dashboard/build-page.ts > page.html`
 * shows what the browser gets.
 */
const PAGE = `${import.meta.dir}/page`;

const result = await Bun.build({ entrypoints: [`${PAGE}/main.ts`], target: "browser", minify: true });
if (!result.success) {
  console.error(result.logs.map(String).join("\n"));
  process.exit(1);
}
let script = "";
let style = "";
for (const output of result.outputs) {
  if (output.path.endsWith(".js")) script += await output.text();
  else if (output.path.endsWith(".css")) style += await output.text();
}
const template = await Bun.file(`${PAGE}/index.html`).text();
// Inline: a closing tag inside the code would end its element early.
const html = template
  .replace("/*STYLE*/", () => style.replaceAll("</style", "<\\/style"))
  .replace("/*SCRIPT*/", () => script.replaceAll("</script", "<\\/script"));
process.stdout.write(html);
