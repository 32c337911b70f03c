// A .js file that is an ES module because its package.json says "type": "module".
export const handler = async (event) => ({ module: 'type-module', isEsm: typeof require === 'undefined', event });
