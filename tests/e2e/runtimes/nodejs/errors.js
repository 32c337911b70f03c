// Throws from an async handler, and other ways of failing.
class OrderError extends Error {
  constructor(message) {
    super(message);
    this.name = 'OrderError';
  }
}

exports.handler = async (event) => {
  if (event.pid) return { pid: process.pid };
  if (event.hang) return new Promise(() => {}); // settles never, and nothing else is pending
  if (event.string) throw 'a plain string'; // eslint-disable-line no-throw-literal
  if (event.uncaught) {
    setTimeout(() => { throw new Error('thrown from a timer'); }, 1);
    return new Promise(() => {});
  }
  if (event.rejection) {
    Promise.reject(new Error('nobody catches this'));
    return new Promise(() => {});
  }
  throw new OrderError(`order ${event.id} is invalid`);
};

exports.notAFunction = 42;
