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
        foreach (var form in _steps) text = text.Normalize(form);
        return text;
    }

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
