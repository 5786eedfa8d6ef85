namespace GspoSharp.Rollout;

/// <summary>
/// The random stream of one sample: SplitMix64 (Steele, Lea and Flood 2014) seeded from
/// (seed, prompt index, sample index). Each sample draws its own uniforms, so what it samples
/// depends on its own logits only — not on which other prompts share its batch, nor on when
/// other samples finish.
/// </summary>
public sealed class SampleRandom(long seed, int prompt, int sample)
{
    ulong state = Mix(Mix(Mix((ulong)seed) ^ (ulong)prompt) ^ ((ulong)sample << 32));

    /// <summary>A uniform draw in the open interval (0, 1).</summary>
    public double NextUniform()
    {
        state += 0x9E3779B97F4A7C15UL;
        return ((Mix(state) >> 11) + 0.5) * (1.0 / (1UL << 53));
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
