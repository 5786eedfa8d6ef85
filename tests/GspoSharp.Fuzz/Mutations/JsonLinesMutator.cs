using System.Text;

namespace GspoSharp.Fuzz.Mutations;

/// <summary>
/// Structure-aware JSON Lines mutations: a line duplicated, dropped, blanked, moved or joined to
/// the next, a line break of another kind inserted, or one line's JSON mutated by <see cref="JsonMutator"/>.
/// </summary>
public static class JsonLinesMutator
{
    public static byte[]? Mutate(byte[] bytes, Mutation step)
    {
        var lines = bytes.AsSpan().ToArray().Split((byte)'\n');
        if (lines.Count == 0) return null;
        int at = (int)(step.Where % (uint)lines.Count);
        if (step.Kind >= 10)
        {
            // Most structure-aware steps edit the JSON of one line.
            var edited = JsonMutator.MutateText(lines[at], step with { Where = step.How, How = step.What / 8 });
            if (edited is null) return null;
            lines[at] = Encoding.UTF8.GetBytes(edited.Replace("\n", "\\n"));
        }
        else
        {
            switch (step.What % 6)
            {
                case 0: lines.Insert(at, lines[at]); break;
                case 1: lines.RemoveAt(at); break;
                case 2: lines[at] = Encoding.UTF8.GetBytes(Fragments.Lines[step.How % (uint)Fragments.Lines.Length].TrimEnd('\n')); break;
                case 3:
                    var moved = lines[at];
                    lines.RemoveAt(at);
                    lines.Insert((int)(step.How % (uint)(lines.Count + 1)), moved);
                    break;
                case 4:
                    if (at + 1 < lines.Count)
                    {
                        lines[at] = [.. lines[at], .. lines[at + 1]];
                        lines.RemoveAt(at + 1);
                    }
                    break;
                default: lines[at] = [.. lines[at], (byte)'\r']; break;
            }
        }
        var result = new List<byte>(bytes.Length + 16);
        for (int i = 0; i < lines.Count; i++)
        {
            if (i > 0) result.Add((byte)'\n');
            result.AddRange(lines[i]);
        }
        return [.. result];
    }

    static List<byte[]> Split(this byte[] bytes, byte separator)
    {
        var parts = new List<byte[]>();
        int start = 0;
        for (int i = 0; i <= bytes.Length; i++)
        {
            if (i == bytes.Length || bytes[i] == separator)
            {
                parts.Add(bytes[start..i]);
                start = i + 1;
            }
        }
        return parts;
    }
}
