// Validates AsyncAPI documents with the official parser (@asyncapi/parser, pinned in package.json).
// Usage: node validate.mjs FILE...   (or a document on stdin). Prints VALID or INVALID per document,
// then its diagnostics; exits 1 if any document has an error, 2 if the parser could not run.
import { readFileSync } from 'node:fs';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const SEVERITY = Object.fromEntries(Object.entries(DiagnosticSeverity).map(([name, level]) => [level, name.toLowerCase()]));

async function check(parser, label, text) {
  const { document, diagnostics } = await parser.parse(text);
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  const valid = document !== undefined && errors.length === 0;
  console.log(`${valid ? 'VALID' : 'INVALID'} ${label}` +
              (valid ? ` (AsyncAPI ${document.version()}, ${document.messages().length} messages)` : ''));
  for (const d of diagnostics) {
    const where = d.path.length ? d.path.join('/') : '(document)';
    console.log(`  ${SEVERITY[d.severity] ?? d.severity} ${d.code} at ${where}: ${d.message}`);
  }
  return valid;
}

const files = process.argv.slice(2);
const parser = new Parser();
let allValid = true;
try {
  if (files.length === 0) {
    allValid = await check(parser, '(stdin)', readFileSync(0, 'utf8'));
  }
  for (const file of files) {
    allValid = (await check(parser, file, readFileSync(file, 'utf8'))) && allValid;
  }
} catch (err) {
  console.error(`could not validate: ${err.stack ?? err}`);
  process.exit(2);
}
process.exit(allValid ? 0 : 1);
