/* global module */
// Prints the plain closing line `tests: N passed, N failed[, N skipped]` that CI tooling reads
// in any language (jest's own summary is not in that form).
class PlainSummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests
    const line =
      `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed` +
      (skipped ? `, ${skipped} skipped` : '')
    process.stdout.write(`\n${line}\n`)
  }
}
module.exports = PlainSummaryReporter
