package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Where recordings' files live (Recording.Storage).
const (
	// StorageLocal keeps them in <data_dir>/recordings (the default).
	StorageLocal = "local"
	// StorageS3 writes them to <data_dir>/recordings as a spool and moves
	// them to an S3-compatible bucket (Recording.S3), where every node
	// reads them.
	StorageS3 = "s3"
)

// Defaults of recording.s3.
const (
	DefaultS3Endpoint     = "s3.amazonaws.com"
	DefaultSpoolAlert     = 1 << 30
	DefaultS3PartSize     = 5 << 20
	DefaultStreamInterval = 5 * time.Second
	MinS3PartSize         = 5 << 20 // S3's smallest part but the last
	MaxS3PartSize         = 5 << 30 // S3's largest part
)

// S3 is the bucket recordings go to with storage s3. Credentials are not
// configuration: they come from the usual places, in order — the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), the shared credentials file (AWS_SHARED_CREDENTIALS_FILE
// or ~/.aws/credentials, AWS_PROFILE), then the instance's IAM role — and
// are never logged.
type S3 struct {
	// Bucket is the bucket's name; required with storage s3.
	Bucket string `yaml:"bucket"`
	// Prefix is put before every object key ("jumpcast/"); "" none.
	Prefix string `yaml:"prefix"`
	// Endpoint is the server, host[:port] without a scheme. Default
	// s3.amazonaws.com.
	Endpoint string `yaml:"endpoint"`
	// Region is the bucket's region; "" asks the server.
	Region string `yaml:"region"`
	// Insecure speaks plain HTTP instead of HTTPS: accepted only for a
	// loopback endpoint (a test server on the same machine).
	Insecure bool `yaml:"insecure"`
	// PathStyle puts the bucket in the URL's path (most self-hosted
	// servers) rather than in the host name.
	PathStyle bool `yaml:"path_style"`
	// CAFile is a PEM authority trusted for the endpoint's certificate,
	// besides the system's; "" none.
	CAFile string `yaml:"ca_file"`
	// PartSize is the size of the parts a recording is streamed in while
	// its session runs (multipart upload). Default and minimum 5MiB (S3's
	// smallest part).
	PartSize ByteSize `yaml:"part_size"`
	// StreamInterval bounds how long recorded bytes of a running session
	// wait in the spool before they are sent to the bucket (as a part;
	// PartSize bytes go at once): what a node lost for good loses. Default
	// 5s; 1s to 1m.
	StreamInterval time.Duration `yaml:"stream_interval"`
	// SpoolAlert is how many bytes may wait in the spool for their upload
	// before /readyz reports the node not ready and one warning is
	// logged. Default 1GiB.
	SpoolAlert ByteSize `yaml:"spool_alert"`
}

// applyStorageDefaults fills recording.storage and recording.s3.
func (c *Config) applyStorageDefaults() {
	if c.Recording.Storage == "" {
		c.Recording.Storage = StorageLocal
	}
	s := &c.Recording.S3
	if s.Endpoint == "" {
		s.Endpoint = DefaultS3Endpoint
	}
	if s.PartSize == 0 {
		s.PartSize = DefaultS3PartSize
	}
	if s.StreamInterval == 0 {
		s.StreamInterval = DefaultStreamInterval
	}
	if s.SpoolAlert == 0 {
		s.SpoolAlert = DefaultSpoolAlert
	}
}

// validateStorage checks recording.storage and recording.s3.
func (c *Config) validateStorage() error {
	bad := func(p, format string, a ...any) error {
		return &FieldError{Path: p, Msg: fmt.Sprintf(format, a...)}
	}
	s := c.Recording.S3
	switch c.Recording.Storage {
	case StorageLocal:
		return nil
	case StorageS3:
	default:
		return bad("recording.storage", "%q: want %s or %s", c.Recording.Storage, StorageLocal, StorageS3)
	}
	if s.Bucket == "" {
		return bad("recording.s3.bucket", "is required with recording.storage s3")
	}
	if strings.ContainsAny(s.Endpoint, "/ ") || s.Endpoint == "" {
		return bad("recording.s3.endpoint", "%q: want host[:port], without scheme or path", s.Endpoint)
	}
	if s.Insecure && !loopbackHost(s.Endpoint) {
		return bad("recording.s3.insecure", "plain HTTP is only for a loopback endpoint, not %q", s.Endpoint)
	}
	if strings.Contains(s.Prefix, "..") || strings.HasPrefix(s.Prefix, "/") {
		return bad("recording.s3.prefix", "%q: no leading / and no ..", s.Prefix)
	}
	if s.PartSize < MinS3PartSize || s.PartSize > MaxS3PartSize {
		return bad("recording.s3.part_size", "%d bytes: want 5MiB to 5GiB", int64(s.PartSize))
	}
	if s.StreamInterval < time.Second || s.StreamInterval > time.Minute {
		return bad("recording.s3.stream_interval", "%s: want 1s to 1m", s.StreamInterval)
	}
	if s.SpoolAlert < 0 {
		return bad("recording.s3.spool_alert", "must not be negative")
	}
	return nil
}

// loopbackHost reports whether hostport names this machine by a loopback
// address or "localhost".
func loopbackHost(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = strings.Trim(hostport, "[]")
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
