// Control: a require entry that reaches an ES module (the old shim, `module.exports = require('./index.js')`
// of an ESM build), which jest's module runtime cannot load.
test('a require(esm) entry loads', () => {
  expect(require('esm-entry').hello).toBe('hi');
});
