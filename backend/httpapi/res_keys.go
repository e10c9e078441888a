package httpapi

import (
	"net/http"

	"github.com/portcullis/portcullis/backend/store"
)

// keyIn registers an SSH public key: an authorized_keys line and an optional
// name (the key's comment by default).
type keyIn struct {
	Name string `json:"name,omitempty"`
	Key  string `json:"key"`
}

// registerKeys adds the endpoints for users' SSH public keys, with which they
// log in to the SSH gateway.
func (a *API) registerKeys() {
	listOf := func(w http.ResponseWriter, r *http.Request, userID uint) error {
		items, err := a.Auth.ListPublicKeys(r.Context(), userID)
		if err != nil {
			return err
		}
		if items == nil {
			items = []store.UserPublicKey{}
		}
		writeJSON(w, 200, page[store.UserPublicKey]{Items: items, Total: int64(len(items)), Page: 1, PageSize: len(items)})
		return nil
	}
	a.add(&route{method: "GET", path: "/me/keys", tag: "Me", summary: "List my SSH public keys (for the SSH gateway)", access: anyUser, resp: store.UserPublicKey{}, list: true,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			return listOf(w, r, rc.user.ID)
		}})
	a.add(&route{method: "POST", path: "/me/keys", tag: "Me", summary: "Register an SSH public key (an authorized_keys line); answers its fingerprint", access: anyUser, req: keyIn{}, resp: store.UserPublicKey{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in keyIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			if rc.token != nil && rc.token.Kind == store.TokenAPI {
				// A leaked API token must not become a durable SSH login.
				return errForbidden("an API token cannot register SSH keys")
			}
			k, err := a.Auth.AddPublicKey(r.Context(), rc.user.ID, in.Name, in.Key)
			a.oplog(r.Context(), rc, "user_key.create", "user_key", keyID(k), keyName(k, in.Name), nil, k, err == nil, errDetail(err))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, k)
			return nil
		}})
	a.add(&route{method: "DELETE", path: "/me/keys/{id}", tag: "Me", summary: "Remove one of my SSH public keys", access: anyUser,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			id, err := pathID(r)
			if err != nil {
				return err
			}
			err = a.Auth.DeletePublicKey(r.Context(), rc.user.ID, id)
			a.oplog(r.Context(), rc, "user_key.delete", "user_key", idString(id), "", nil, nil, err == nil, errDetail(err))
			if err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
	a.add(&route{method: "GET", path: "/users/{id}/keys", tag: "Users", summary: "List a user's SSH public keys", access: adminRead, resp: store.UserPublicKey{}, list: true,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			id, err := pathID(r)
			if err != nil {
				return err
			}
			var u store.User
			if err := a.db.WithContext(r.Context()).Where("id = ? AND org_id = ?", id, rc.orgID).Take(&u).Error; err != nil {
				return store.Translate(err)
			}
			return listOf(w, r, u.ID)
		}})
}

func keyID(k *store.UserPublicKey) string {
	if k == nil {
		return ""
	}
	return idString(k.ID)
}

func keyName(k *store.UserPublicKey, fallback string) string {
	if k == nil {
		return fallback
	}
	return k.Name + " " + k.Fingerprint
}
