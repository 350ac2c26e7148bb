package proxy

import (
	"slices"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/cpu"
)

// serverAlgorithms are the bastion's algorithms: AEAD ciphers first, no
// SHA-1 anywhere, all taken from what x/crypto supports.
func serverAlgorithms() gossh.Config {
	sup := gossh.SupportedAlgorithms()
	pick := func(supported []string, want ...string) []string {
		var out []string
		for _, w := range want {
			if slices.Contains(supported, w) {
				out = append(out, w)
			}
		}
		return out
	}
	return gossh.Config{
		KeyExchanges: pick(sup.KeyExchanges, gossh.KeyExchangeMLKEM768X25519, gossh.KeyExchangeCurve25519,
			gossh.KeyExchangeECDHP256, gossh.KeyExchangeECDHP384, gossh.KeyExchangeECDHP521,
			gossh.KeyExchangeDH16SHA512, gossh.KeyExchangeDH14SHA256),
		Ciphers: pick(sup.Ciphers, preferredCiphers()...),
		MACs:    pick(sup.MACs, gossh.HMACSHA256ETM, gossh.HMACSHA512ETM, gossh.HMACSHA256, gossh.HMACSHA512),
	}
}

// preferredCiphers orders the AEAD ciphers by what is fast here. Where the
// CPU has AES instructions, x/crypto's AES-GCM runs in assembly while its
// ChaCha20-Poly1305 does not (the benchmark profile showed generic ChaCha20
// at 14% of the bastion's CPU), so AES-GCM goes first. The order decides the
// upstream hop, where the bastion is the client; on the admin's hop the
// client's order wins.
func preferredCiphers() []string {
	aead := []string{gossh.CipherChaCha20Poly1305, gossh.CipherAES128GCM, gossh.CipherAES256GCM}
	if cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ || cpu.ARM64.HasAES && cpu.ARM64.HasPMULL {
		aead = []string{gossh.CipherAES128GCM, gossh.CipherAES256GCM, gossh.CipherChaCha20Poly1305}
	}
	return append(aead, gossh.CipherAES256CTR, gossh.CipherAES192CTR, gossh.CipherAES128CTR)
}

// publicKeyAuthAlgorithms are the client signature algorithms accepted:
// what x/crypto supports, without SHA-1 RSA.
func publicKeyAuthAlgorithms() []string {
	return slices.DeleteFunc(gossh.SupportedAlgorithms().PublicKeyAuths, func(a string) bool {
		return a == gossh.KeyAlgoRSA || a == "ssh-dss" // by name: the constant is deprecated
	})
}

// clientAlgorithms are the upstream algorithms: the same hardened choice
// as the server side.
func clientAlgorithms() gossh.Config {
	return serverAlgorithms()
}
