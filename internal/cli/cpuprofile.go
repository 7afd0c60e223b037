package cli

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/ratdata/rat"
)

// addCPUProfile adds the hidden --cpuprofile flag: the command writes a Go
// CPU profile (pprof format) of its whole process to the file when it
// ends. 'rat bench serve --cpuprofile DIR' passes it to the processes it
// starts.
func addCPUProfile(root *cobra.Command, g *globals) {
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile of this process to this file (pprof format)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if g.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(g.cpuProfile)
		if err != nil {
			return rat.Errorf(rat.EINVALID, "--cpuprofile: %v: give a file in a directory that exists and is writable", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return rat.Errorf(rat.EINTERNAL, "--cpuprofile: %v", err)
		}
		g.stopProfile = func() error {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				return fmt.Errorf("write CPU profile %s: %w", g.cpuProfile, err)
			}
			return nil
		}
		return nil
	}
}
