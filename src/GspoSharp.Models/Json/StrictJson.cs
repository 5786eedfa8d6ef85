using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GspoSharp.Models.Json;

/// <summary>
/// Parses the JSON files GspoSharp reads. System.Text.Json accepts three things at parse time
/// that it then fails on later, with an exception naming no file or line: a name given twice in
/// one object (JsonObject throws ArgumentException when first indexed), a string holding invalid
/// UTF-8, and a string or name holding an unpaired surrogate escape such as <c>"\ud800"</c>
/// (reading either throws InvalidOperationException). One pass of <see cref="Utf8JsonReader"/>
/// refuses all three up front as a <see cref="JsonException"/> with the line, which every
/// reader already turns into an error naming the file.
/// </summary>
internal static class StrictJson
{
    /// <summary>System.Text.Json's default depth limit.</summary>
    public const int DefaultMaxDepth = 64;

    static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];

    /// <summary>Parses a document (a leading UTF-8 byte order mark is skipped).</summary>
    /// <exception cref="JsonException">Not valid JSON, or one of the three problems above; <see cref="JsonException.LineNumber"/> is 0-based.</exception>
    /// <param name="utf8">The file's bytes.</param>
    /// <param name="maxDepth">The deepest nesting accepted.</param>
    /// <param name="allowDuplicateNames">Keep both values of a name given twice, for a reader that looks for
    /// them itself and names them in its own terms (a tensor, a weight_map entry).</param>
    public static JsonDocument Document(ReadOnlyMemory<byte> utf8, int maxDepth = DefaultMaxDepth, bool allowDuplicateNames = false)
    {
        utf8 = SkipBom(utf8);
        Check(utf8.Span, maxDepth, allowDuplicateNames);
        return JsonDocument.Parse(utf8, Options(maxDepth) with { AllowDuplicateProperties = allowDuplicateNames });
    }

    /// <summary>Parses a document into a mutable node tree.</summary>
    /// <exception cref="JsonException">As <see cref="Document"/>.</exception>
    public static JsonNode? Node(ReadOnlyMemory<byte> utf8, int maxDepth = DefaultMaxDepth)
    {
        utf8 = SkipBom(utf8);
        Check(utf8.Span, maxDepth, allowDuplicateNames: false);
        return JsonNode.Parse(utf8.Span, documentOptions: Options(maxDepth));
    }

    /// <summary>Parses text (e.g. one line of a JSON Lines file) into a node tree.</summary>
    public static JsonNode? Node(string text, int maxDepth = DefaultMaxDepth) => Node(Encoding.UTF8.GetBytes(text), maxDepth);

    static JsonDocumentOptions Options(int maxDepth) => new() { MaxDepth = maxDepth, AllowDuplicateProperties = false };

    static ReadOnlyMemory<byte> SkipBom(ReadOnlyMemory<byte> utf8) => utf8.Span.StartsWith(Bom) ? utf8[Bom.Length..] : utf8;

    /// <summary>Reads every token once, decoding every string and name, and tracking the names of each open object.</summary>
    static void Check(ReadOnlySpan<byte> utf8, int maxDepth, bool allowDuplicateNames)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth });
        var names = new Stack<HashSet<string>>();
        while (reader.Read())   // syntax errors throw here, with their line
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    names.Push(new HashSet<string>(StringComparer.Ordinal));
                    break;
                case JsonTokenType.EndObject:
                    names.Pop();
                    break;
                case JsonTokenType.PropertyName:
                    string name = Decode(ref reader, utf8, "a name");
                    if (!names.Peek().Add(name) && !allowDuplicateNames)
                        throw Error(utf8, reader.TokenStartIndex, $"\"{name}\" appears twice in one object.");
                    break;
                case JsonTokenType.String:
                    Decode(ref reader, utf8, "a string");
                    break;
            }
        }
    }

    static string Decode(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, string what)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Error(utf8, reader.TokenStartIndex, $"{what} is not valid text: it holds invalid UTF-8 or an unpaired surrogate escape (such as \\ud800).");
        }
    }

    static JsonException Error(ReadOnlySpan<byte> utf8, long offset, string message)
    {
        var before = utf8[..(int)offset];
        int line = before.Count((byte)'\n');
        int column = (int)offset - (before.LastIndexOf((byte)'\n') + 1);
        return new JsonException($"{message} LineNumber: {line} | BytePositionInLine: {column}.", null, line, column);
    }
}
