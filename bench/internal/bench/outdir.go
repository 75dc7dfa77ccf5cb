package bench

import (
	"io"
	"os"
	"path/filepath"
)

// outDir is a results folder that remembers the files written into it.
type outDir struct {
	dir     string
	written []string
}

func newOutDir(dir string) (*outDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &outDir{dir: dir}, nil
}

// write creates name in the folder and fills it with f.
func (o *outDir) write(name string, f func(io.Writer) error) error {
	path := filepath.Join(o.dir, name)
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f(file); err != nil {
		file.Close()
		return err
	}
	o.written = append(o.written, path)
	return file.Close()
}

// plot writes a grid of latency panels to name in the folder.
func (o *outDir) plot(name string, panels []Panel) error {
	return o.plotAt(filepath.Join(o.dir, name), panels)
}

// plotAt writes a grid of latency panels to path, inside the folder or not.
func (o *outDir) plotAt(path string, panels []Panel) error {
	if err := WritePlotGrid(path, panels); err != nil {
		return err
	}
	o.written = append(o.written, path)
	return nil
}
