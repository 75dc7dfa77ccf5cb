package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// devSecretBytes is the length of the development JWT secret.
const devSecretBytes = 32

// devSecretPath is where the development secret is kept: the user's config
// directory (XDG_CONFIG_HOME, else os.UserConfigDir), hyvve-gateway/dev-secret.
func devSecretPath(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "hyvve-gateway", "dev-secret"), nil
}

// loadDevSecret returns the development secret kept at path, creating it
// (directory 0700, file 0600) on first use, so dev tokens outlive a restart
// and `gateway token` can sign with it. A file others may read is refused.
func loadDevSecret(path string) ([]byte, error) {
	for range 2 {
		secret, err := readDevSecret(path)
		if !errors.Is(err, fs.ErrNotExist) {
			return secret, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		secret = make([]byte, devSecretBytes)
		_, _ = rand.Read(secret)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue // another process created it meanwhile: read theirs
		}
		if err != nil {
			return nil, err
		}
		_, werr := f.WriteString(hex.EncodeToString(secret) + "\n")
		if err := errors.Join(werr, f.Close()); err != nil {
			_ = os.Remove(path)
			return nil, err
		}
		return secret, nil
	}
	return nil, fmt.Errorf("%s: created and removed while reading it", path)
}

func readDevSecret(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it or delete it", path, st.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(secret) < devSecretBytes {
		return nil, fmt.Errorf("%s does not hold a development secret: delete it to get a new one", path)
	}
	return secret, nil
}

// devPublishKey derives the development publish key from the development
// secret: stable with it, so the printed curl line keeps working.
func devPublishKey(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("hyvve-gateway development publish key"))
	return "dev-" + hex.EncodeToString(m.Sum(nil)[:16])
}
