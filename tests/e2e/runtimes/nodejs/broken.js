// Requires a package that is not deployed with the function.
const missing = require('a-package-that-is-not-installed');

exports.handler = async () => missing();
