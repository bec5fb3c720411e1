package data

import (
	"fmt"
	"iter"
	"math/rand/v2"
)

// Batch is a group of examples gathered from a set: copies of their features, labels, ids (and
// survival times and events when the set has them), plus where they came from.
type Batch struct {
	Indices []int     // positions in the set
	X       []float32 // len(Indices)·Dim features, row-major
	Y       []int32
	IDs     []int32
	Times   []float32 // nil unless the set has survival times
	Events  []int32   // nil unless the set has survival events
	Epoch   int       // epoch this batch belongs to (from 0)
	Step    int       // batch number since the start (from 0)
}

// Len returns the number of examples in the batch.
func (b *Batch) Len() int { return len(b.Indices) }

func (s *Set) batch(idx []int) Batch {
	b := Batch{Indices: idx, IDs: gather(s.IDs, idx)}
	b.X, b.Y = s.Gather(idx)
	if s.Times != nil {
		b.Times = gather(s.Times, idx)
	}
	if s.Events != nil {
		b.Events = gather(s.Events, idx)
	}
	return b
}

// EpochOrder returns the order in which epoch `epoch` visits n examples: a permutation of 0..n−1
// that depends only on (n, seed, epoch), so any epoch can be replayed on its own.
func EpochOrder(n int, seed uint64, epoch int) []int {
	stream := streamShuffle ^ (uint64(epoch)+1)*0x9e3779b97f4a7c15
	return permutation(rand.New(rand.NewPCG(seed, stream)), n)
}

// BatchConfig describes a training batch stream.
type BatchConfig struct {
	Size int    // examples per batch
	Seed uint64 // seed of the epoch orders (see EpochOrder)
	// Sequential visits examples in set order every epoch instead of shuffling.
	Sequential bool
	// KeepPartial yields the last, smaller batch of an epoch; by default it is dropped so every
	// batch has Size examples (fixed shapes avoid recompiling graphs). Dropped examples are visited
	// in other epochs, since each epoch has its own order.
	KeepPartial bool
}

// Batcher yields batches over a set epoch after epoch, without end; the sequence is fixed by the
// config (same seed and set ⇒ the same batches).
type Batcher struct {
	s     *Set
	cfg   BatchConfig
	order []int
	pos   int
	epoch int
	step  int
}

// NewBatcher returns a batch stream over s.
func NewBatcher(s *Set, cfg BatchConfig) (*Batcher, error) {
	if cfg.Size < 1 {
		return nil, fmt.Errorf("data: batch size %d must be ≥ 1", cfg.Size)
	}
	if s.Len() == 0 || (!cfg.KeepPartial && cfg.Size > s.Len()) {
		return nil, fmt.Errorf("data: set %q has %d examples, too few for batches of %d (set KeepPartial to allow a smaller one)", s.Name, s.Len(), cfg.Size)
	}
	b := &Batcher{s: s, cfg: cfg}
	b.startEpoch(0)
	return b, nil
}

func (b *Batcher) startEpoch(e int) {
	b.epoch, b.pos = e, 0
	if b.cfg.Sequential {
		b.order = make([]int, b.s.Len())
		for i := range b.order {
			b.order[i] = i
		}
	} else {
		b.order = EpochOrder(b.s.Len(), b.cfg.Seed, e)
	}
}

// StepsPerEpoch returns the number of batches in one epoch.
func (b *Batcher) StepsPerEpoch() int {
	n := b.s.Len() / b.cfg.Size
	if b.cfg.KeepPartial && b.s.Len()%b.cfg.Size != 0 {
		n++
	}
	return n
}

// Epoch returns the epoch of the next batch.
func (b *Batcher) Epoch() int {
	if b.pos >= len(b.order) || (!b.cfg.KeepPartial && b.pos+b.cfg.Size > len(b.order)) {
		return b.epoch + 1
	}
	return b.epoch
}

// NextIndices returns the positions of the next batch without gathering its data.
func (b *Batcher) NextIndices() (idx []int, epoch, step int) {
	if b.pos >= len(b.order) || (!b.cfg.KeepPartial && b.pos+b.cfg.Size > len(b.order)) {
		b.startEpoch(b.epoch + 1)
	}
	end := min(b.pos+b.cfg.Size, len(b.order))
	idx = append([]int(nil), b.order[b.pos:end]...)
	b.pos = end
	epoch, step = b.epoch, b.step
	b.step++
	return idx, epoch, step
}

// Next returns the next batch, gathering its data.
func (b *Batcher) Next() Batch {
	idx, epoch, step := b.NextIndices()
	batch := b.s.batch(idx)
	batch.Epoch, batch.Step = epoch, step
	return batch
}

// Batches visits the set once in order, in batches of size (the last one may be smaller): for
// evaluation.
//
//	for b := range set.Batches(1000) { ... b.X, b.Y ... }
func (s *Set) Batches(size int) iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		if size < 1 {
			size = max(1, s.Len())
		}
		for step, start := 0, 0; start < s.Len(); step, start = step+1, start+size {
			idx := make([]int, 0, size)
			for i := start; i < min(start+size, s.Len()); i++ {
				idx = append(idx, i)
			}
			b := s.batch(idx)
			b.Step = step
			if !yield(b) {
				return
			}
		}
	}
}
