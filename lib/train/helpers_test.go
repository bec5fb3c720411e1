package train

import (
	"github.com/gomlx/gomlx/backends"

	"github.com/losslab/losslab/lib/backend"
)

type backendT = backends.Backend

func mustBackend() backends.Backend { return backend.Must() }
