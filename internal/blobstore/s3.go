package blobstore

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// S3Config says where an S3-compatible bucket is and how to sign in.
type S3Config struct {
	// Endpoint is host[:port], without scheme.
	Endpoint string
	// Insecure speaks plain HTTP (a loopback test server only).
	Insecure bool
	Bucket   string
	Region   string
	// Prefix is put before every key ("jumpcast/" → "jumpcast/2026/…").
	Prefix string
	// AccessKey and SecretKey sign requests; both empty means the usual
	// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, then the
	// shared credentials file).
	AccessKey, SecretKey string
	// PathStyle asks for bucket-in-path URLs (most self-hosted servers).
	PathStyle bool
	// CAFile adds a PEM authority to trust for the endpoint's certificate.
	CAFile string
	// PartSize is the multipart part size; 0 means 16 MiB. Files larger
	// than one part go up as a multipart upload.
	PartSize uint64
}

// S3 is a Store in an S3-compatible bucket.
type S3 struct {
	c        *minio.Client
	bucket   string
	prefix   string
	partSize uint64
	name     string
}

// shaMeta is the user metadata holding a file's SHA-256, checked by Stat.
const shaMeta = "Jumpcast-Sha256"

// NewS3 returns the store of cfg's bucket. It makes no request: Check
// tells whether the bucket is reachable with these credentials.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, fmt.Errorf("blobstore: s3 needs an endpoint and a bucket")
	}
	if strings.Contains(cfg.Endpoint, "/") {
		return nil, fmt.Errorf("blobstore: s3 endpoint %q: host[:port] only, no scheme or path", cfg.Endpoint)
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{}})
	}
	opts := &minio.Options{Creds: creds, Secure: !cfg.Insecure, Region: cfg.Region, BucketLookup: minio.BucketLookupAuto}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("blobstore: s3 ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("blobstore: s3 ca_file %s: no PEM certificate", cfg.CAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}
	c, err := minio.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("blobstore: s3: %w", err)
	}
	ps := cfg.PartSize
	if ps == 0 {
		ps = 16 << 20
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{c: c, bucket: cfg.Bucket, prefix: prefix, partSize: ps,
		name: fmt.Sprintf("s3 %s/%s at %s", cfg.Bucket, prefix, cfg.Endpoint)}, nil
}

// Name implements Store.
func (s *S3) Name() string { return s.name }

// Check makes one request that needs the bucket and valid credentials,
// and returns a one-line error otherwise.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("%s: %s", s.name, oneLine(err))
	}
	if !ok {
		return fmt.Errorf("%s: bucket %q does not exist", s.name, s.bucket)
	}
	return nil
}

func oneLine(err error) string {
	r := minio.ToErrorResponse(err)
	if r.Code != "" {
		return r.Code + ": " + r.Message
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

func (s *S3) object(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// Put implements Store. Files larger than the part size go up as a
// multipart upload (the server assembles the object only when every part
// arrived, so a failed Put leaves none). The bytes read are hashed on the
// way and the stored object's size is checked afterwards.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, sum string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(io.LimitReader(r, size), h)}
	meta := map[string]string{}
	if sum != "" {
		meta[shaMeta] = sum
	}
	info, err := s.c.PutObject(ctx, s.bucket, obj, cr, size, minio.PutObjectOptions{
		PartSize: s.partSize, UserMetadata: meta, ContentType: "application/octet-stream",
		SendContentMd5: false, DisableContentSha256: false,
	})
	if err != nil {
		return fmt.Errorf("%s: put %s: %s", s.name, key, oneLine(err))
	}
	if err := verify(key, cr.n, hex.EncodeToString(h.Sum(nil)), size, sum); err != nil {
		_ = s.c.RemoveObject(ctx, s.bucket, obj, minio.RemoveObjectOptions{})
		return err
	}
	if info.Size != size {
		st, err := s.Stat(ctx, key)
		if err != nil {
			return err
		}
		if st.Size != size {
			return fmt.Errorf("%s: %s stored with %d bytes, want %d", s.name, key, st.Size, size)
		}
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	obj, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	st, err := s.c.StatObject(ctx, s.bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.notExist(key, err)
	}
	return Info{Key: key, Size: st.Size, SHA256: st.UserMetadata[shaMeta]}, nil
}

func (s *S3) notExist(key string, err error) error {
	if c := minio.ToErrorResponse(err).Code; c == minio.NoSuchKey || c == "NotFound" {
		return fmt.Errorf("%w: %s", ErrNotExist, key)
	}
	return fmt.Errorf("%s: %s: %s", s.name, key, oneLine(err))
}

// Open implements Store: one HEAD now, then a ranged GET per ReadAt.
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	st, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	obj, _ := s.object(key)
	return &s3Object{s: s, ctx: ctx, obj: obj, size: st.Size}, nil
}

type s3Object struct {
	s    *S3
	ctx  context.Context
	obj  string
	size int64
}

func (o *s3Object) Size() int64  { return o.size }
func (o *s3Object) Close() error { return nil }

// ReadAt reads len(p) bytes at off with one ranged GET (fewer at the end
// of the object, with io.EOF).
func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("blobstore: negative offset")
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := int64(len(p))
	if want == 0 {
		return 0, nil
	}
	if off+want > o.size {
		want = o.size - off
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+want-1); err != nil {
		return 0, err
	}
	r, err := o.s.c.GetObject(o.ctx, o.s.bucket, o.obj, opts)
	if err != nil {
		return 0, fmt.Errorf("%s: get %s: %s", o.s.name, o.obj, oneLine(err))
	}
	defer r.Close()
	n, err := io.ReadFull(r, p[:want])
	if err != nil {
		return n, fmt.Errorf("%s: get %s: %s", o.s.name, o.obj, oneLine(err))
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, id string) ([]Info, error) {
	rel, err := recording.RelPath(id)
	if err != nil {
		return nil, err
	}
	var out []Info
	prefix := s.prefix + rel[:len("YYYY/MM/DD/")]
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix + id}) {
		if o.Err != nil {
			return nil, fmt.Errorf("%s: list %s: %s", s.name, id, oneLine(o.Err))
		}
		key := strings.TrimPrefix(o.Key, s.prefix)
		if checkKey(key) == nil {
			out = append(out, Info{Key: key, Size: o.Size})
		}
	}
	return out, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, obj, minio.RemoveObjectOptions{}); err != nil {
		if c := minio.ToErrorResponse(err).Code; c == minio.NoSuchKey {
			return nil
		}
		return fmt.Errorf("%s: delete %s: %s", s.name, key, oneLine(err))
	}
	return nil
}
