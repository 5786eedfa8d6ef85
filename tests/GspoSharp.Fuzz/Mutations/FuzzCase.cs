using CsCheck;

namespace GspoSharp.Fuzz.Mutations;

/// <summary>
/// One mutation step. <see cref="Kind"/> picks the operation (0–7 byte-level, 8–15 aware of the
/// input's format); the three numbers pick where it applies and with what, each reduced modulo the
/// number of choices the operation has at that point.
/// </summary>
public readonly record struct Mutation(int Kind, uint Where, uint What, uint How)
{
    /// <summary>Kinds below this are byte-level; the rest are structure-aware.</summary>
    public const int FirstStructural = 8;

    public const int KindCount = 16;

    public override string ToString() => $"{Kind}:{Where}:{What}:{How}";
}

/// <summary>One fuzz input: a seed file (by index) and the mutation steps applied to it in order.</summary>
public sealed record FuzzCase(int Seed, Mutation[] Steps)
{
    static readonly Gen<Mutation> Step =
        from kind in CsCheck.Gen.Int[0, Mutation.KindCount - 1]
        from place in CsCheck.Gen.UInt
        from what in CsCheck.Gen.UInt
        from how in CsCheck.Gen.UInt
        select new Mutation(kind, place, what, how);

    /// <summary>A seed index and one to four steps. Generated from a PCG, so a case is reproduced by its stream and seed.</summary>
    public static Gen<FuzzCase> Cases { get; } =
        from seed in CsCheck.Gen.Int[0, 1 << 20]
        from steps in Step.Array[1, 4]
        select new FuzzCase(seed, steps);

    /// <summary>The case of input <paramref name="index"/> of a run with <paramref name="runSeed"/> on target number <paramref name="stream"/>.</summary>
    public static FuzzCase At(uint stream, ulong runSeed, long index) =>
        Cases.Generate(new PCG(stream, runSeed * 1_000_003UL + (ulong)index), null!, out _);

    /// <summary>The text <see cref="Parse"/> reads back: <c>seed/kind:where:what:how/…</c>.</summary>
    public override string ToString() => $"{Seed}/{string.Join("/", Steps)}";

    public static FuzzCase Parse(string text)
    {
        var parts = text.Split('/');
        return new FuzzCase(int.Parse(parts[0]), parts.Skip(1).Select(p =>
        {
            var n = p.Split(':');
            return new Mutation(int.Parse(n[0]), uint.Parse(n[1]), uint.Parse(n[2]), uint.Parse(n[3]));
        }).ToArray());
    }
}
