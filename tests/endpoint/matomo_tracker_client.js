// Sends page views, an event, a site search, a goal and an ecommerce order to a Matomo tracker
// with the npm package matomo-tracker (a third-party client). Usage:
//   node matomo_tracker_client.js MODULE_DIR TRACKER_URL TOKEN
// Prints the bulk answer (JSON) on one line once both the single and the bulk requests ended.
'use strict';
const MatomoTracker = require(process.argv[2]);
const tracker = new MatomoTracker(1, process.argv[3]);
const token = process.argv[4];
const ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const visitor = {_id: '1234567890abcdef', ua: ua, cip: '10.1.2.3', token_auth: token};
const errors = [];
tracker.on('error', (e) => errors.push(String(e)));

// One page view as a single GET request.
tracker.track(Object.assign({url: 'https://www.example.com/', action_name: 'Home / Welcome',
                             res: '1280x800', lang: 'en-gb'}, visitor));
// The rest as one bulk request.
const items = JSON.stringify([['BOOK-1', 'A book', 'Books', 19.9, 1]]);
tracker.trackBulk([
  Object.assign({url: 'https://www.example.com/shop', action_name: 'Shop'},
                visitor),
  Object.assign({url: 'https://www.example.com/shop', e_c: 'Video', e_a: 'Play', e_n: 'Intro',
                 e_v: 7}, visitor),
  Object.assign({url: 'https://www.example.com/search', search: 'Matomo', search_cat: 'Docs',
                 search_count: 4}, visitor),
  Object.assign({url: 'https://www.example.com/signup', idgoal: 1, revenue: 5}, visitor),
  Object.assign({url: 'https://www.example.com/checkout', idgoal: 0, ec_id: 'NODE-1',
                 ec_items: items, revenue: 24.9, ec_st: 19.9, ec_tx: 3, ec_sh: 2}, visitor),
], (body) => {
  // Give the single request time to end, then report.
  setTimeout(() => {
    console.log(JSON.stringify({bulk: JSON.parse(body), errors: errors}));
    process.exit(0);  // Node's keep-alive agent would hold the process open
  }, 300);
});
