package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
)

// uploaded is one file an upload stored.
type uploaded struct {
	Zone string `json:"zone"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// upload stores the files of a multipart request in a landing zone. The
// whole request is bounded by Limits.UploadBytes; file names must be plain
// names of a format rat reads.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Landing == nil {
		return rat.Errorf(rat.EUNAVAILABLE, "this server has no landing area")
	}
	zone := r.PathValue("zone")
	if err := ingest.ValidateZone(zone); err != nil {
		return err
	}
	if mediaType(r) != "multipart/form-data" {
		return errMediaType(r, "upload files as multipart/form-data")
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.Limits.UploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return rat.Errorf(rat.EINVALID, "want a multipart/form-data upload with one or more files: %s", err.Error())
	}
	out := []uploaded{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		if part.FileName() == "" {
			part.Close()
			continue // a plain form field
		}
		name := part.FileName()
		if err := ingest.ValidateFileName(name); err != nil {
			part.Close()
			return err
		}
		// The request as a whole is capped; the store writes the file
		// atomically, so a body that breaks off leaves nothing.
		counter := &countingReader{r: part}
		n, err := s.cfg.Landing.Upload(r.Context(), zone, name, counter, 0)
		part.Close()
		if counter.err != nil {
			// The body broke off or was malformed: the client's mistake,
			// whatever the store made of it.
			return bodyError(counter.err)
		}
		if err != nil {
			return uploadError(err)
		}
		s.log.Info("landing upload", "zone", zone, "file", name, "bytes", n)
		out = append(out, uploaded{Zone: zone, Name: name, Size: n})
	}
	if len(out) == 0 {
		return rat.Errorf(rat.EINVALID, "the upload holds no file: send multipart/form-data with a file part")
	}
	writeJSON(w, http.StatusCreated, map[string]any{"files": out})
	return nil
}

// uploadError keeps an oversized body recognisable (413) and wraps the rest.
func uploadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	if rat.ErrorCode(err) != rat.EINTERNAL {
		return err
	}
	return fmt.Errorf("store upload: %w", err)
}

// bodyError is the answer to a request body that could not be read as
// multipart: over the limit (413), else malformed (400).
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return rat.Errorf(rat.EINVALID, "the upload is not valid multipart/form-data (%s): send the files as a form with file parts, as curl -F file=@orders.csv does", err.Error())
}

// countingReader counts the bytes of a part and keeps the error reading
// it failed with, if any.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}
