// Package perm resolves asset permissions: what a user may reach, as which
// accounts, by which protocols, with which actions.
//
// A permission applies to a user when it is active, belongs to the user's
// organization, names the user or one of the user's groups (of the same
// organization), and the resolver's clock is inside [DateStart, DateExpired)
// and inside its TimeWindow. It grants the assets it lists and every asset in
// the subtree of each node it lists. Only active assets and accounts of the
// user's organization are ever granted. A time window that does not parse
// never applies; an inactive user is granted nothing.
//
// The resolver keeps no cache: every call reads the database, so a change made
// by any code path or by another portcullisd sharing the database counts at
// once. It stays fast at scale by doing set work in SQL on indexes (see
// EnsureIndexes) and in Go on compact ID sets:
//
//  1. the user's applicable permissions (a handful of indexed lookups, then
//     dates and time windows in Go);
//  2. the candidate asset IDs: the permissions' direct assets plus the assets
//     of the granted subtrees, found by the materialized-path range
//     key >= k||':' AND key < k||';' on an index (':' < ';' in ASCII);
//  3. the filtered, sorted page: when the candidate set is small it is probed
//     by primary key and sorted; when it is a large part of the organization,
//     the organization's matching assets are scanned once (a covering index)
//     and intersected in Go for the total, and the page is read in index
//     order, stopping as soon as it is full (or, when the granted assets come
//     late in that order, once that has cost as much as sorting them);
//  4. accounts, protocols and actions only for the assets of the page.
//
// Several permissions may grant the same asset: listings merge them (union of
// accounts, protocols and actions), while Check requires that one permission
// grants the account, the protocol and the action together.
package perm
