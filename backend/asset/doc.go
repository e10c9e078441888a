// Package asset is the domain logic of Portcullis' inventory: it validates and
// normalizes assets, accounts, zones and gateways; keeps the node tree (folders
// of assets) consistent; and imports and exports assets and accounts as CSV.
//
// # Validation
//
// ValidateAsset, ValidateAccount, ValidateZone and ValidateGateway normalize a
// model in place (trimming, lowercasing protocol names, dropping duplicate
// labels) and return a *FieldError naming the offending JSON field. Every
// validation error wraps ErrInvalid; the REST layer turns an error that has a
// FieldName method into 400 {"code":"validation","field":...}.
//
// # Node tree
//
// A node's Key is the materialized path of IDs from its root ("1:7:42"), so a
// subtree is "key = K OR key LIKE 'K:%'". CreateNode, MoveNode, RenameNode,
// DeleteNode and NodeByPath keep keys right; each mutation runs in a
// transaction that first locks the organization row, so tree changes of one
// organization are serialized on PostgreSQL as well as on SQLite. Create nodes
// only through these functions: root nodes (nil parent) are kept unique by
// name here, not by the database (a NULL parent never collides in a unique
// index).
//
// # CSV
//
// ImportAssets and ImportAccounts read a CSV file with a header row (columns
// matched by name, case-insensitively, in any order) and upsert one object per
// data row. Rows are numbered from 1, the header being row 0: row N is the N-th
// record after the header, so in a spreadsheet it is sheet row N+1. Every row
// is validated completely before anything is written; valid rows are then
// written in chunks, each inside a savepoint of the import's one transaction,
// and a chunk that fails is rolled back and written again row by row. So a row
// that fails leaves nothing of itself behind (not even the nodes it created),
// and the other rows go on. Errors that are not a row's fault (the database
// went away, the context was cancelled) abort the import and nothing is
// written. DryRun runs the whole import and rolls it back.
//
// On update, a column absent from the header leaves that field unchanged; a
// column present with an empty cell sets the field empty, except is_active and
// privileged (empty keeps the current value; on create they default to true
// and false) and secret (empty keeps the current secret).
//
// ExportAssets and ExportAccounts write files that ImportAssets and
// ImportAccounts read back to the same data. Account secrets are never
// exported. Exported cells are guarded against formula injection: a cell that
// starts with = + - @ TAB CR or an apostrophe gets one more apostrophe in front,
// and import removes exactly one leading apostrophe when the character after it
// is one of those. Export followed by import is therefore the identity, and a
// value typed as '=1 in a hand-written file imports as =1. The secret column is
// taken verbatim (it is never exported, so it is never escaped).
package asset
