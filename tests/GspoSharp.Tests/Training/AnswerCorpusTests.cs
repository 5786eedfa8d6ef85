using GspoSharp.Rewards;

namespace GspoSharp.Tests.Training;

/// <summary>
/// The labelled corpus in data/answers.tsv: reference and model answers in the forms models and
/// datasets write (GSM8K, MATH), each labelled by hand as equivalent or not.
/// </summary>
public class AnswerCorpusTests
{
    public static TheoryData<int, string, string, string, bool> Pairs()
    {
        var data = new TheoryData<int, string, string, string, bool>();
        string path = Path.Combine(AppContext.BaseDirectory, "Training", "data", "answers.tsv");
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (text.Length == 0 || text.StartsWith('#')) continue;
            var fields = text.Split('\t');
            if (fields.Length != 4 || fields[0] is not ("0" or "1"))
                throw new InvalidDataException($"{path}:{line}: expected 'verdict<TAB>reference<TAB>answer<TAB>note'.");
            data.Add(line, fields[3], fields[1], fields[2], fields[0] == "1");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Each_labelled_pair_gets_its_verdict(int line, string note, string reference, string answer, bool equivalent) =>
        Assert.True(AnswerEquivalence.Equivalent(answer, reference) == equivalent,
            $"answers.tsv line {line} ({note}): '{answer}' against '{reference}' should be {(equivalent ? "equivalent" : "not equivalent")}.");

    [Fact]
    public void The_corpus_is_large_and_has_both_verdicts()
    {
        var pairs = Pairs().Select(row => (bool)row[4]).ToList();
        Assert.True(pairs.Count >= 100, $"{pairs.Count} pairs");
        Assert.True(pairs.Count(p => p) >= 40 && pairs.Count(p => !p) >= 40);
    }
}
