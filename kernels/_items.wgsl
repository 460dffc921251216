// The element types of kernels that move "items": one element, or with VEC4 four consecutive ones.
// V is an item as stored (act / act4), F the same item in f32 math (f32 / vec4f); total(v) sums its elements.
#if VEC4
alias V = act4;
alias F = vec4f;
fn total(v: F) -> f32 { return (v.x + v.y) + (v.z + v.w); }
#else
alias V = act;
alias F = f32;
fn total(v: F) -> f32 { return v; }
#endif
