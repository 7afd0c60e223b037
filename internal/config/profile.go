// Package config builds rat's effective configuration: profile defaults <
// workspace.yaml < environment < flags (DESIGN D13). Every key has an effect;
// unknown keys are errors that name the file and key.
package config

import (
	"sort"
	"strings"

	"github.com/ratdata/rat"
)

// Profile is a named set of resource defaults (DESIGN §4).
type Profile struct {
	Name                 string
	DuckDBMemoryMB       int
	DuckDBThreads        int
	ChunkSizeRows        int
	MaxParallelPipelines int
	CacheMB              int // size bound of the local read cache for S3 data files
	// MaxResultBytes caps one API query's answer (rat serve): its JSON rows
	// or its Parquet download.
	MaxResultBytes int
	// TargetFileSizeMB is the size of the files rat optimize writes.
	TargetFileSizeMB int
}

// Profiles is the one source of truth for profile values.
var profiles = map[string]Profile{
	"tiny":   {Name: "tiny", DuckDBMemoryMB: 2048, DuckDBThreads: 1, ChunkSizeRows: 10_000, MaxParallelPipelines: 1, CacheMB: 1024, MaxResultBytes: 16 << 20, TargetFileSizeMB: 32},
	"small":  {Name: "small", DuckDBMemoryMB: 8192, DuckDBThreads: 2, ChunkSizeRows: 50_000, MaxParallelPipelines: 2, CacheMB: 10_240, MaxResultBytes: 64 << 20, TargetFileSizeMB: 64},
	"medium": {Name: "medium", DuckDBMemoryMB: 32768, DuckDBThreads: 4, ChunkSizeRows: 200_000, MaxParallelPipelines: 4, CacheMB: 51_200, MaxResultBytes: 256 << 20, TargetFileSizeMB: 128},
	"large":  {Name: "large", DuckDBMemoryMB: 98304, DuckDBThreads: 8, ChunkSizeRows: 1_000_000, MaxParallelPipelines: 8, CacheMB: 204_800, MaxResultBytes: 1 << 30, TargetFileSizeMB: 128},
}

// DefaultProfile is used when nothing selects one.
const DefaultProfile = "small"

// LookupProfile returns the named profile ("auto" is not one: Load
// resolves it to one by the memory limit).
func LookupProfile(name string) (Profile, error) {
	p, ok := profiles[strings.ToLower(name)]
	if !ok {
		return Profile{}, rat.Errorf(rat.EINVALID, "unknown profile %q: choose one of %s, or auto (the largest whose memory fits this machine or container)",
			name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}

// ProfileNames lists the profiles from smallest to largest.
func ProfileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return profiles[names[i]].DuckDBMemoryMB < profiles[names[j]].DuckDBMemoryMB })
	return names
}
