// Package proxies holds the measurements and the small-scale training setup of Wortsman et
// al., "Small-scale proxies for large-scale Transformer training instabilities", ICLR 2024, arXiv:2309.14322: a tiny
// decoder-only Transformer language model (LM) with optional qk-layernorm, trained with AdamW (coupled
// or independent weight decay, warm-up and cosine schedule, gradient clipping) and the output-logit
// z-loss, while recording the two instabilities the paper studies: attention-logit growth (the max
// |q·k|/√d_h per layer and the attention entropy) and output-logit divergence (mean log Z).
//
// The paper's summary of a learning-rate sweep is the LR sensitivity (LRSensitivity):
//
//	LRS = mean over the grid of [ min(ℓ(η), ℓ₀) − min_η ℓ(η) ],
//
// with divergent runs counted as ℓ₀, the loss at initialisation. Lower is flatter.
//
// Every formula has a plain float64 reference here (LogZ, ZLoss, LayerNorm, QKLogitBound, DecayStep,
// Schedule) that the tests compare with the graphs. The training data is a synthetic order-2 Markov
// chain (Markov), whose entropy rate is the lowest reachable loss.
package proxies
