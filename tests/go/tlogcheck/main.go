// tlogcheck checks a tresor audit log with Go's reference transparency-log
// code (golang.org/x/mod/sumdb/note and sumdb/tlog, from Debian's
// golang-golang-x-mod-dev), nobody's code from tresor:
//
//	tlogcheck <tiles URL prefix> <verifier key> <mine.json>
//
// mine.json is a citizen's GET /api/v1/audit/mine answer. It opens the
// answer's checkpoint with the verifier key (note.Open), reads the hash
// tiles from the prefix as a tlog-tiles client does (tlog.TileHashReader
// checks every tile against the signed tree hash), and for each entry
// checks that SHA-256(0x00 || body) is the leaf hash, that the leaf in the
// tiles is that hash, and that the served inclusion proof verifies
// (tlog.CheckRecord) and equals the proof tlog builds from the tiles.
// Prints "OK <entries> entries, tree <size>" or exits 1 with the reason.
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type entry struct {
	Sequence       int64    `json:"sequence"`
	Body           *string  `json:"body"`
	LeafHash       string   `json:"leaf_hash"`
	InclusionProof []string `json:"inclusion_proof"`
}

type log struct {
	Checkpoint string  `json:"checkpoint"`
	Entries    []entry `json:"entries"`
}

// tiles reads C2SP tlog-tiles hash tiles: Go's paths carry the tile height
// ("tile/8/L/N"), C2SP's do not ("tile/L/N").
type tiles struct{ prefix string }

func (t tiles) Height() int { return 8 }

func (t tiles) ReadTiles(list []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(list))
	for i, tile := range list {
		path := strings.TrimPrefix(tile.Path(), "tile/8/")
		response, err := http.Get(t.prefix + "tile/" + path)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(response.Body)
		response.Body.Close()
		if err != nil {
			return nil, err
		}
		if response.StatusCode != 200 {
			return nil, fmt.Errorf("tile %s: status %d", path, response.StatusCode)
		}
		data[i] = body
	}
	return data, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: tlogcheck <tiles URL prefix> <verifier key> <mine.json>")
	}
	prefix, key, file := os.Args[1], os.Args[2], os.Args[3]
	raw, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	var served log
	if err := json.Unmarshal(raw, &served); err != nil {
		fail("mine.json: %v", err)
	}
	verifier, err := note.NewVerifier(key)
	if err != nil {
		fail("verifier key: %v", err)
	}
	opened, err := note.Open([]byte(served.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	lines := strings.Split(opened.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint text: %q", opened.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		fail("checkpoint root: %q", lines[2])
	}
	var tree tlog.Tree
	tree.N = size
	copy(tree.Hash[:], root)
	reader := tlog.TileHashReader(tree, tiles{prefix})
	computed, err := tlog.TreeHash(tree.N, reader)
	if err != nil || computed != tree.Hash {
		fail("tree hash from the tiles: %v (%v vs %v)", err, computed, tree.Hash)
	}
	for _, e := range served.Entries {
		if e.InclusionProof == nil {
			continue
		}
		var leaf tlog.Hash
		if e.Body != nil {
			leaf = tlog.RecordHash([]byte(*e.Body))
			if hex.EncodeToString(leaf[:]) != e.LeafHash {
				fail("entry %d: SHA-256(0x00 || body) is not its leaf hash", e.Sequence)
			}
		} else {
			decoded, _ := hex.DecodeString(e.LeafHash)
			copy(leaf[:], decoded)
		}
		inTiles, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, e.Sequence)})
		if err != nil || inTiles[0] != leaf {
			fail("entry %d: the leaf in the tiles differs (%v)", e.Sequence, err)
		}
		proof := make(tlog.RecordProof, len(e.InclusionProof))
		for i, text := range e.InclusionProof {
			decoded, err := hex.DecodeString(text)
			if err != nil || len(decoded) != tlog.HashSize {
				fail("entry %d: proof hash %d", e.Sequence, i)
			}
			copy(proof[i][:], decoded)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, e.Sequence, leaf); err != nil {
			fail("entry %d: the served proof does not verify: %v", e.Sequence, err)
		}
		built, err := tlog.ProveRecord(tree.N, e.Sequence, reader)
		if err != nil || len(built) != len(proof) {
			fail("entry %d: tlog cannot build the proof from the tiles: %v", e.Sequence, err)
		}
		for i := range built {
			if built[i] != proof[i] {
				fail("entry %d: the served proof differs from tlog's at %d", e.Sequence, i)
			}
		}
	}
	fmt.Printf("OK %d entries, tree %d\n", len(served.Entries), tree.N)
}
