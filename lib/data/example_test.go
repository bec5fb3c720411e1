package data_test

import (
	"fmt"

	"github.com/losslab/losslab/lib/data"
)

// A noisy-label experiment: blobs split into train and test, symmetric noise on train only, and a
// shuffled batch stream for training.
func Example() {
	all, err := data.Blobs(data.BlobsConfig{N: 8000, Classes: 10, Dim: 20, Seed: 1})
	if err != nil {
		panic(err)
	}
	train, test, _ := all.Split(0.75, 1)
	noisy, _, _ := data.LabelNoise(train, data.NoiseConfig{Kind: data.Symmetric, Rate: 0.4, Seed: 2})
	batches, _ := data.NewBatcher(noisy, data.BatchConfig{Size: 128, Seed: 3})
	b := batches.Next()
	fmt.Println(train.Len(), test.Len(), train.ClassCounts()[0], batches.StepsPerEpoch(), len(b.X), len(b.IDs))
	// Output: 6000 2000 600 46 2560 128
}

// Few-shot episodes over a class split of a set.
func ExampleNewEpisodeSampler() {
	s, _ := data.Blobs(data.BlobsConfig{N: 1000, Classes: 10, Seed: 1})
	sampler, _ := data.NewEpisodeSampler(s, data.EpisodeConfig{Way: 5, Shot: 1, Query: 15, Pool: []int{0, 1, 2, 3, 4, 5}, Seed: 7})
	ep := sampler.Next()
	fmt.Println(len(ep.Classes), len(ep.Support), len(ep.Query), ep.SupportY)
	// Output: 5 5 75 [0 1 2 3 4]
}
