using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace GspoSharp.Training;

/// <summary>
/// Loads the YAML of run configs and experiment matrices. YamlDotNet builds its node tree by
/// recursion, one stack frame per level of nesting, so a file of a few thousand <c>[</c> would
/// overflow the stack and end the process before any error could be reported; the nesting is
/// therefore measured first with the event parser, which does not recurse, and refused past
/// <see cref="MaxDepth"/>. Syntax errors become <see cref="ArgumentException"/>s naming the source and line.
/// </summary>
internal static class YamlFile
{
    /// <summary>Deeper than any config needs (they are flat, matrices three levels) and far from the stack's limit.</summary>
    public const int MaxDepth = 64;

    /// <summary>The documents of <paramref name="text"/>; <paramref name="source"/> names it in errors, with line numbers when <paramref name="lineNumbers"/>.</summary>
    /// <exception cref="ArgumentException">Not YAML, or nested deeper than <see cref="MaxDepth"/>.</exception>
    public static YamlStream Load(string text, string source, bool lineNumbers = true)
    {
        string Where(Mark mark) => lineNumbers ? $"{source}:{mark.Line}" : source;
        Mark? tooDeep = null;
        try
        {
            var parser = new Parser(new StringReader(text));
            int depth = 0;
            while (tooDeep is null && parser.MoveNext())
            {
                if (parser.Current is MappingStart or SequenceStart && ++depth > MaxDepth) tooDeep = parser.Current.Start;
                if (parser.Current is MappingEnd or SequenceEnd) depth--;
            }
            if (tooDeep is null)
            {
                var stream = new YamlStream();
                stream.Load(new StringReader(text));
                return stream;
            }
        }
        catch (YamlException e)
        {
            throw new ArgumentException($"{Where(e.Start)}: {e.Message}");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet 18.1 fails this way on some malformed input instead of with a YamlException:
            // an unclosed "[1, 2" followed by more lines, a quoted "\udc00\ud800", an alias
            // right after a flow collection ("[1]*a").
            throw new ArgumentException($"{source}: not valid YAML ({e.GetType().Name}: {e.Message})");
        }
        throw new ArgumentException($"{Where(tooDeep.Value)}: lists and mappings are nested more than {MaxDepth} deep.");
    }
}
