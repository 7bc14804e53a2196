// tap coverage map: unit tests are held to 100% coverage of the modules they
// load; integration tests (real processes) prove behaviour and add no
// "accidental coverage" (tap's own wording for this option).
export default function coverageMap(testFile) {
  return testFile.startsWith('test/integration/') ? null : []
}
