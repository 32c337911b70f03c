// The callback style: `(event, context, callback)`. The answer goes out when
// the event loop is empty, so the timer set after callback() still runs first;
// with callbackWaitsForEmptyEventLoop false it goes out at once.
let afterCallback = 0;

exports.handler = (event, context, callback) => {
  if (event.noAnswer) return; // never calls back: answers null once the loop is empty
  if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;
  const before = afterCallback;
  if (event.fail) {
    callback(new Error('callback failure'));
    return;
  }
  setTimeout(() => {
    afterCallback += 1;
    console.log('timer after the callback ran');
  }, event.timerMs ?? 50);
  callback(null, { style: 'callback', timersBefore: before, wait: context.callbackWaitsForEmptyEventLoop });
};
