package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// checkpointMeta is LossLab's side file of a checkpoint (MetaFile). Files and Sum were added later:
// a checkpoint without them still loads, with the structural checks only.
type checkpointMeta struct {
	Step      int      `json:"step"`
	Model     string   `json:"model,omitempty"`
	Trainable []string `json:"trainable"`
	Frozen    []string `json:"frozen"` // saved variables that are not trainable
	// Files holds the SHA-256 (hex) of every other file of the checkpoint folder (GoMLX's JSON index
	// and data file), so that an edited or damaged file is an error rather than different values.
	Files map[string]string `json:"files,omitempty"`
	// Sum is the SHA-256 of this file as written with Sum empty: it catches an edited step, model name
	// or variable list.
	Sum string `json:"sum,omitempty"`
}

// encodeMeta returns the bytes of the meta file, Sum included.
func encodeMeta(meta checkpointMeta) []byte {
	meta.Sum = ""
	b, _ := json.MarshalIndent(meta, "", "  ")
	sum := sha256.Sum256(b)
	meta.Sum = hex.EncodeToString(sum[:])
	b, _ = json.MarshalIndent(meta, "", "  ")
	return b
}

// fileSums returns the SHA-256 of every regular file in dir except the meta file.
func fileSums(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, e := range entries {
		if e.Name() == MetaFile || !e.Type().IsRegular() {
			continue
		}
		s, err := fileSum(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sums[e.Name()] = s
	}
	return sums, nil
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// maxMetaBytes bounds the meta file: it lists variable names only.
const maxMetaBytes = 16 << 20

// readMeta reads and checks the meta file of the checkpoint folder path: known keys only, both
// variable lists present, no variable listed twice, names that are absolute scope paths, the step of
// the folder's name, and the checksums where the file has them.
func readMeta(path string) (checkpointMeta, error) {
	var meta checkpointMeta
	file := filepath.Join(path, MetaFile)
	st, err := os.Stat(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return meta, fmt.Errorf("%s is not a LossLab checkpoint folder (no %s)", path, MetaFile)
		}
		return meta, err
	}
	if st.Size() > maxMetaBytes {
		return meta, fmt.Errorf("%s: %d bytes, more than a checkpoint's variable list can take (%d): damaged", file, st.Size(), maxMetaBytes)
	}
	mb, err := os.ReadFile(file)
	if err != nil {
		return meta, err
	}
	if err := decodeStrict(mb, &meta); err != nil {
		return meta, fmt.Errorf("%s: %w", file, err)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(mb, &keys)
	for _, k := range []string{"step", "trainable", "frozen"} {
		if v, ok := keys[k]; !ok || string(v) == "null" {
			return meta, fmt.Errorf("%s: no %q entry: damaged or not written by LossLab", file, k)
		}
	}
	if meta.Sum != "" {
		want := meta.Sum
		if got := encodeMeta(meta); !bytes.Equal(got, mb) {
			return meta, fmt.Errorf("%s: its checksum %.12s… does not match its contents: the file was edited or damaged", file, want)
		}
	}
	if meta.Step < 0 {
		return meta, fmt.Errorf("%s: negative step %d", file, meta.Step)
	}
	if m := stepDirRe.FindStringSubmatch(filepath.Base(path)); m != nil {
		if step, err := strconv.Atoi(m[1]); err == nil && step != meta.Step {
			return meta, fmt.Errorf("%s records step %d, but the folder is step %d", file, meta.Step, step)
		}
	}
	seen := map[string]bool{}
	for _, name := range slices.Concat(meta.Trainable, meta.Frozen) {
		if scope, vname := context.SplitScope(name); scope == "" || vname == "" {
			return meta, fmt.Errorf("%s: %q is not a variable's scope and name", file, name)
		}
		if seen[name] {
			return meta, fmt.Errorf("%s lists variable %s twice", file, name)
		}
		seen[name] = true
	}
	if meta.Files != nil {
		if err := checkFiles(path, meta.Files); err != nil {
			return meta, err
		}
	}
	return meta, nil
}

// checkFiles compares the folder's files with the checksums recorded when it was saved.
func checkFiles(path string, want map[string]string) error {
	got, err := fileSums(path)
	if err != nil {
		return err
	}
	for name, sum := range want {
		g, ok := got[name]
		switch {
		case !ok:
			return fmt.Errorf("%s: file %s is missing", path, name)
		case g != sum:
			return fmt.Errorf("%s: file %s does not match the checksum recorded when it was saved: edited or damaged", path, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok && strings.HasPrefix(name, "checkpoint-") {
			return fmt.Errorf("%s: file %s was not part of the checkpoint when it was saved", path, name)
		}
	}
	return nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// gomlxIndex is the part of GoMLX's checkpoint JSON that the loader trusts (checkpoints v0.26).
type gomlxIndex struct {
	Params    json.RawMessage
	Variables []struct {
		ParameterName *string
		Dimensions    []int
		DType         *string
		Pos, Length   *int
	}
	BinFormat string `json:",omitempty"`
}

// checkGoMLXIndex checks GoMLX's JSON index of the checkpoint folder path before GoMLX reads it (its
// loader panics on a missing name or dtype and allocates whatever shape it is told): one index and
// one data file, every variable named "var:/…", a known dtype, and consecutive byte ranges whose
// lengths match the shapes and whose total the data file can hold. It returns the variable names
// (scope and name).
func checkGoMLXIndex(path string) ([]string, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var jsons, bins []string
	for _, e := range entries {
		switch n := e.Name(); {
		case !strings.HasPrefix(n, "checkpoint-"):
		case strings.HasSuffix(n, ".json"):
			jsons = append(jsons, n)
		case strings.HasSuffix(n, ".bin"):
			bins = append(bins, n)
		}
	}
	if len(jsons) != 1 || len(bins) != 1 || strings.TrimSuffix(jsons[0], ".json") != strings.TrimSuffix(bins[0], ".bin") {
		return nil, fmt.Errorf("%s: want one GoMLX index (checkpoint-….json) and its data file (.bin), found %q and %q", path, jsons, bins)
	}
	jsonPath, binPath := filepath.Join(path, jsons[0]), filepath.Join(path, bins[0])
	st, err := os.Stat(binPath)
	if err != nil {
		return nil, err
	}
	// GoMLX gzips the data (gzip expands at most ~1,032 times) or, in its older format, stores it as is.
	maxData := 1100*st.Size() + 4096
	jst, err := os.Stat(jsonPath)
	if err != nil {
		return nil, err
	}
	if jst.Size() > maxMetaBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than an index of variables takes: damaged", jsonPath, jst.Size())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, err
	}
	var idx gomlxIndex
	if err := decodeStrict(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	if s := strings.TrimSpace(string(idx.Params)); s != "" && s != "null" && s != "[]" {
		return nil, fmt.Errorf("%s: holds hyperparameters, which LossLab never saves: not a LossLab checkpoint", jsonPath)
	}
	var names []string
	var pos int64
	for i, v := range idx.Variables {
		if v.ParameterName == nil || v.DType == nil || v.Pos == nil || v.Length == nil {
			return nil, fmt.Errorf("%s: variable %d lacks its name, dtype, position or length: damaged", jsonPath, i)
		}
		scope, vname := context.VariableScopeAndNameFromParameterName(*v.ParameterName)
		if scope == "" || vname == "" {
			return nil, fmt.Errorf("%s: variable %d has the malformed name %q", jsonPath, i, *v.ParameterName)
		}
		name := context.JoinScope(scope, vname)
		size, ok := dtypeSize(*v.DType)
		if !ok {
			return nil, fmt.Errorf("%s: variable %s has the unknown dtype %q", jsonPath, name, *v.DType)
		}
		n := int64(size)
		for _, d := range v.Dimensions {
			if d < 0 || (d > 0 && n > maxData/int64(d)) {
				return nil, fmt.Errorf("%s: variable %s has the shape %v, more than the data file holds: damaged", jsonPath, name, v.Dimensions)
			}
			n *= int64(d)
		}
		if int64(*v.Length) != n || int64(*v.Pos) != pos {
			return nil, fmt.Errorf("%s: variable %s: %d bytes at %d, but its shape %s%v takes %d bytes at %d: damaged",
				jsonPath, name, *v.Length, *v.Pos, *v.DType, v.Dimensions, n, pos)
		}
		pos += n
		if pos > maxData {
			return nil, fmt.Errorf("%s: the variables take %d bytes, more than the %d-byte data file holds: damaged", jsonPath, pos, st.Size())
		}
		names = append(names, name)
	}
	return names, nil
}

// dtypeSize is the size of the dtypes a LossLab context holds, by GoMLX's JSON name.
func dtypeSize(name string) (int, bool) {
	dt, ok := dtypes.MapOfNames[name]
	if !ok || dt.String() != name {
		return 0, false
	}
	switch dt {
	case dtypes.Bool, dtypes.Int8, dtypes.Uint8:
		return 1, true
	case dtypes.Int16, dtypes.Uint16, dtypes.Float16, dtypes.BFloat16:
		return 2, true
	case dtypes.Int32, dtypes.Uint32, dtypes.Float32:
		return 4, true
	case dtypes.Int64, dtypes.Uint64, dtypes.Float64, dtypes.Complex64:
		return 8, true
	case dtypes.Complex128:
		return 16, true
	}
	return 0, false
}
