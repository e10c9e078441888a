package asset

import (
	"fmt"
	"strconv"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// AccountSecretAAD is the vault AAD binding an account's sealed secret to its row.
func AccountSecretAAD(id uint) string { return "account:" + strconv.FormatUint(uint64(id), 10) }

// GatewaySecretAAD is the vault AAD binding a gateway's sealed secret to its row.
func GatewaySecretAAD(id uint) string { return "gateway:" + strconv.FormatUint(uint64(id), 10) }

// SealAccountSecret seals secret into a.SecretEnc and sets a.HasSecret; an
// empty secret clears both. a.ID must be set (insert the row first). It does
// not save a.
func SealAccountSecret(v *vault.Vault, a *store.Account, secret string) error {
	enc, err := seal(v, a.ID, AccountSecretAAD, secret)
	if err != nil {
		return err
	}
	a.SecretEnc, a.HasSecret = enc, secret != ""
	return nil
}

// OpenAccountSecret returns a's plaintext secret; store.ErrNotFound when it has none.
func OpenAccountSecret(v *vault.Vault, a *store.Account) (string, error) {
	return open(v, a.ID, a.HasSecret, a.SecretEnc, AccountSecretAAD)
}

// SealGatewaySecret is SealAccountSecret for gateways.
func SealGatewaySecret(v *vault.Vault, g *store.Gateway, secret string) error {
	enc, err := seal(v, g.ID, GatewaySecretAAD, secret)
	if err != nil {
		return err
	}
	g.SecretEnc, g.HasSecret = enc, secret != ""
	return nil
}

// OpenGatewaySecret is OpenAccountSecret for gateways.
func OpenGatewaySecret(v *vault.Vault, g *store.Gateway) (string, error) {
	return open(v, g.ID, g.HasSecret, g.SecretEnc, GatewaySecretAAD)
}

func seal(v *vault.Vault, id uint, aad func(uint) string, secret string) ([]byte, error) {
	if id == 0 {
		return nil, fmt.Errorf("asset: seal %s: the row has no ID yet", aad(id))
	}
	if secret == "" {
		return nil, nil
	}
	enc, err := v.Seal([]byte(secret), aad(id))
	if err != nil {
		return nil, fmt.Errorf("asset: seal %s: %w", aad(id), err)
	}
	return enc, nil
}

func open(v *vault.Vault, id uint, has bool, enc []byte, aad func(uint) string) (string, error) {
	if !has || len(enc) == 0 {
		return "", fmt.Errorf("asset: %s has no secret: %w", aad(id), store.ErrNotFound)
	}
	pt, err := v.Unseal(enc, aad(id))
	if err != nil {
		return "", fmt.Errorf("asset: open %s: %w", aad(id), err)
	}
	return string(pt), nil
}
