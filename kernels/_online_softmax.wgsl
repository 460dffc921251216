// The online-softmax step shared by attention_causal.wgsl and attention_segmented.wgsl (scores in log2 units).

const NEG = -3.0e38;  // finite "minus infinity": exp2(NEG - m) == 0 without inf - inf

// One query vector's running max m and denominator l after a block of 4 scores, the block's weights w
// (0 where masked) and corr = exp2(m_old - m_new), by which the vector's accumulator must be rescaled.
struct SoftmaxStep { m: f32, l: f32, corr: f32, w: vec4f }

fn softmaxStep(m: f32, l: f32, s: vec4f, mask: vec4<bool>) -> SoftmaxStep {
  let sm = select(vec4f(NEG), s, mask);
  let mNew = max(m, max(max(sm.x, sm.y), max(sm.z, sm.w)));
  let corr = exp2(m - mNew);
  let w = select(vec4f(0.0), exp2(sm - vec4f(mNew)), mask);
  return SoftmaxStep(mNew, l * corr + (w.x + w.y + w.z + w.w), corr, w);
}
