using System.Text;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// The "normalizer" of a tokenizer.json: Unicode normalization forms, applied in order
/// (a Sequence of them, or one). No steps means the text is used as written.
/// </summary>
internal sealed class TextNormalizer
{
    readonly NormalizationForm[] _steps;

    public TextNormalizer(IEnumerable<NormalizationForm> steps) => _steps = steps.ToArray();

    /// <summary>Whether the normalizer leaves every text unchanged.</summary>
    public bool IsIdentity => _steps.Length == 0;

    public string Normalize(string text)
    {
        foreach (var form in _steps) text = Apply(text, form);
        return text;
    }

    /// <summary>
    /// <see cref="string.Normalize(NormalizationForm)"/>, also for text holding U+FFFE: .NET's ICU-backed
    /// normalization refuses that noncharacter (an <see cref="ArgumentException"/>, "invalid Unicode code
    /// points"), the only scalar value it refuses, where Hugging Face's tokenizers normalize it like any other.
    /// U+FFFE has no decomposition, combining class 0 and no composition, so no form changes it or lets it
    /// change a neighbour: normalizing the runs between its occurrences is the whole text's normalization.
    /// </summary>
    public static string Apply(string text, NormalizationForm form) =>
        text.Contains('\uFFFE')
            ? string.Join('\uFFFE', text.Split('\uFFFE').Select(run => run.Normalize(form)))
            : text.Normalize(form);

    /// <summary>The form a normalizer "type" names, or null for a type GspoSharp does not implement.</summary>
    public static NormalizationForm? FormOf(string type) => type switch
    {
        "NFC" => NormalizationForm.FormC,
        "NFD" => NormalizationForm.FormD,
        "NFKC" => NormalizationForm.FormKC,
        "NFKD" => NormalizationForm.FormKD,
        _ => null,
    };
}
