using GspoSharp.Fuzz;
using GspoSharp.Fuzz.Mutations;

namespace GspoSharp.Tests.Fuzz;

/// <summary>The valid files the targets start from, made once for the class (two tiny models, a sharded checkpoint, …).</summary>
public sealed class FuzzFixtures : IDisposable
{
    public Fixtures Fixtures { get; } = new();

    public void Dispose() => Fixtures.Dispose();
}

/// <summary>
/// The CI slice of the parser fuzzer (tests/GspoSharp.Fuzz, docs/reliability.md): a fixed seed and
/// a fixed number of mutated inputs per parser. Each must be accepted, or refused with the
/// parser's documented exception naming the file; any other exception, or a runaway allocation,
/// fails with the case that reproduces it (<c>--target NAME --seed S --case CASE</c>).
/// </summary>
public class ParserFuzzTests(FuzzFixtures fixtures) : IClassFixture<FuzzFixtures>
{
    const ulong Seed = 2025;
    const int InputsPerTarget = 150;

    public static TheoryData<string> TargetNames => new(Targets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void Mutated_inputs_are_accepted_or_refused_with_an_error_naming_the_file(string name)
    {
        var target = Targets.Named(name);
        var setup = target.Setup(fixtures.Fixtures);
        FuzzRunner.VerifySeeds(target, setup);
        uint stream = (uint)Targets.All.ToList().IndexOf(target);
        var stats = FuzzRunner.Run(target, setup, stream, Seed, InputsPerTarget);
        Assert.True(stats.Findings.Count == 0,
            $"{stats.Findings.Count} of {InputsPerTarget} inputs broke the contract (reproduce with --seed {Seed} --target {name} --case CASE):\n\n" +
            string.Join("\n\n", stats.Findings.Take(3)));
        Assert.Equal(InputsPerTarget, stats.Tried);
        Assert.True(stats.Refused > 0 && stats.Accepted > 0, $"the mutations should reach both outcomes: {stats.Accepted} accepted, {stats.Refused} refused.");
    }

    [Fact]
    public void A_case_makes_the_same_bytes_every_time_and_reads_back_from_its_text()
    {
        byte[][] seeds = ["{\"a\": [1, 2, {\"b\": \"c\"}], \"d\": null}"u8.ToArray()];
        for (long i = 0; i < 200; i++)
        {
            var fuzzCase = FuzzCase.At(stream: 0, runSeed: 7, i);
            var again = FuzzCase.Parse(fuzzCase.ToString());
            Assert.Equal(fuzzCase.ToString(), again.ToString());
            Assert.Equal(Mutator.Apply(fuzzCase, seeds, InputFormat.Json), Mutator.Apply(again, seeds, InputFormat.Json));
        }
    }

    [Fact]
    public void Structure_aware_json_steps_make_duplicates_other_types_and_deep_nesting()
    {
        byte[] seed = "{\"a\": 1, \"b\": \"x\"}"u8.ToArray();
        string Step(uint where, uint edit, uint how) =>
            JsonMutator.MutateText(seed, new Mutation(Mutation.FirstStructural, where, edit, how))!;
        // Slots in document order: 0 the root, 1 "a", 2 "b".
        Assert.Equal("{\"a\":1,\"a\":1,\"b\":\"x\"}", Step(1, 3, 0));                 // duplicate, same value
        Assert.Equal("{\"a\":null,\"b\":\"x\"}", Step(1, 0, 0));                       // another type
        Assert.Equal("{\"a\":1,\"b\":\"x\"}".Replace("1", "2147483648"), Step(1, 1, 16)); // a number past int
        Assert.Equal("{\"a\":1}", Step(2, 2, 0));                                      // removed
        Assert.Equal("{\"a\":1,\"b\":[[\"x\"]]}", Step(2, 5, 0));                      // nested two deeper
    }
}
