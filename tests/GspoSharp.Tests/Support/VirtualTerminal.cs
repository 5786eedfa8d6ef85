using System.Globalization;
using System.Text;

namespace GspoSharp.Tests;

/// <summary>
/// A minimal terminal emulator: it replays what a program wrote to a terminal (text with the
/// escape sequences a live display moves the cursor with) onto a grid of cells, so a test can
/// read the screen the user saw instead of the raw stream. It follows xterm for what it
/// implements — cursor movement, erasing, scrolling into a scrollback, and the deferred line wrap
/// of the last column — ignores colours and modes, and refuses any other escape sequence, so an
/// unknown one fails a test instead of being misread. Every character takes one cell (the tool
/// prints no East Asian wide characters); those outside the Basic Multilingual Plane are refused.
/// </summary>
public sealed class VirtualTerminal
{
    readonly int columns, rows;
    readonly List<char[]> scrollback = new();
    readonly char[][] screen;
    int row, column;
    bool wrapPending;   // the last column was written: the next character goes to the next line
    (int Row, int Column)? saved;

    public VirtualTerminal(int columns, int rows)
    {
        if (columns < 1 || rows < 1) throw new ArgumentOutOfRangeException(nameof(columns), "a terminal has at least one row and column");
        this.columns = columns;
        this.rows = rows;
        screen = Enumerable.Range(0, rows).Select(_ => Blank()).ToArray();
    }

    /// <summary>The cursor as (row, column), both from 0.</summary>
    public (int Row, int Column) Cursor => (row, column);

    /// <summary>False while the program has hidden the cursor (as a live display does while it draws).</summary>
    public bool CursorVisible { get; private set; } = true;

    /// <summary>The visible rows, trailing spaces removed.</summary>
    public IReadOnlyList<string> Screen => screen.Select(Text).ToList();

    /// <summary>Everything that scrolled off the top, then the screen, without the empty rows at the end.</summary>
    public IReadOnlyList<string> Transcript
    {
        get
        {
            var lines = scrollback.Concat(screen).Select(Text).ToList();
            while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
            return lines;
        }
    }

    /// <summary>Replays <paramref name="output"/> (decoded text as the terminal received it).</summary>
    public VirtualTerminal Write(string output)
    {
        for (int i = 0; i < output.Length;)
        {
            char c = output[i];
            if (c == '\u001b')
            {
                i = Escape(output, i);
                continue;
            }
            i++;
            switch (c)
            {
                case '\r': column = 0; wrapPending = false; break;
                case '\n': LineFeed(); break;
                case '\b': if (column > 0) column--; wrapPending = false; break;
                case '\t': column = Math.Min(columns - 1, (column / 8 + 1) * 8); wrapPending = false; break;
                case '\a': break;
                default:
                    if (char.IsControl(c) || char.IsSurrogate(c)) throw new NotSupportedException($"character U+{(int)c:X4} at offset {i - 1}");
                    Print(c);
                    break;
            }
        }
        return this;
    }

    void Print(char c)
    {
        if (wrapPending)
        {
            column = 0;
            LineFeed();
        }
        screen[row][column] = c;
        if (column == columns - 1) wrapPending = true;
        else column++;
    }

    void LineFeed()
    {
        wrapPending = false;
        if (row < rows - 1) row++;
        else ScrollUp();
    }

    void ScrollUp()
    {
        scrollback.Add(screen[0]);
        Array.Copy(screen, 1, screen, 0, rows - 1);
        screen[rows - 1] = Blank();
    }

    /// <summary>Interprets the escape sequence at <paramref name="start"/>; returns the offset after it.</summary>
    int Escape(string s, int start)
    {
        if (start + 1 >= s.Length) throw new NotSupportedException($"escape cut off at offset {start}");
        char kind = s[start + 1];
        switch (kind)
        {
            case '[': return ControlSequence(s, start);
            case ']':   // operating system command (window title, hyperlink): ends with BEL or ESC \
                for (int i = start + 2; i < s.Length; i++)
                {
                    if (s[i] == '\a') return i + 1;
                    if (s[i] == '\u001b' && i + 1 < s.Length && s[i + 1] == '\\') return i + 2;
                }
                throw new NotSupportedException($"operating system command cut off at offset {start}");
            case '=' or '>': return start + 2;   // keypad modes
            case '7': saved = (row, column); return start + 2;
            case '8': (row, column) = saved ?? (0, 0); wrapPending = false; return start + 2;
            case 'D': LineFeed(); return start + 2;
            case 'M':
                wrapPending = false;
                if (row > 0) row--;
                else
                {
                    Array.Copy(screen, 0, screen, 1, rows - 1);
                    screen[0] = Blank();
                }
                return start + 2;
            default: throw new NotSupportedException($"escape sequence ESC {kind} at offset {start}");
        }
    }

    int ControlSequence(string s, int start)
    {
        int i = start + 2;
        while (i < s.Length && s[i] is >= '0' and <= '?') i++;   // parameter bytes
        string parameters = s[(start + 2)..i];
        int intermediates = i;
        while (i < s.Length && s[i] is >= ' ' and <= '/') i++;
        if (i >= s.Length || s[i] is not (>= '@' and <= '~')) throw new NotSupportedException($"control sequence cut off at offset {start}");
        char final = s[i];
        string sequence = s[start..(i + 1)].Replace("\u001b", "ESC");
        if (i > intermediates) throw new NotSupportedException($"control sequence {sequence} at offset {start}");
        if (parameters.StartsWith('?') || parameters.StartsWith('>'))
        {
            if (parameters == "?25" && final is 'h' or 'l') CursorVisible = final == 'h';
            if (final is 'h' or 'l') return i + 1;   // private modes: cursor visibility, cursor keys
            throw new NotSupportedException($"control sequence {sequence} at offset {start}");
        }
        var numbers = parameters.Length == 0 ? Array.Empty<int>()
            : parameters.Split(';').Select(p => p.Length == 0 ? 0 : int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        int N(int index, int fallback) => index < numbers.Length && numbers[index] != 0 ? numbers[index] : fallback;
        int Mode() => numbers.Length > 0 ? numbers[0] : 0;
        if (final is 'm' or 'h' or 'l') return i + 1;   // colours, text style and modes; a pending wrap stays pending, as in xterm
        switch (final)
        {
            case 'A': row = Math.Max(0, row - N(0, 1)); break;
            case 'B': row = Math.Min(rows - 1, row + N(0, 1)); break;
            case 'C': column = Math.Min(columns - 1, column + N(0, 1)); break;
            case 'D': column = Math.Max(0, column - N(0, 1)); break;
            case 'E': row = Math.Min(rows - 1, row + N(0, 1)); column = 0; break;
            case 'F': row = Math.Max(0, row - N(0, 1)); column = 0; break;
            case 'G': column = Math.Clamp(N(0, 1) - 1, 0, columns - 1); break;
            case 'H' or 'f':
                row = Math.Clamp(N(0, 1) - 1, 0, rows - 1);
                column = Math.Clamp(N(1, 1) - 1, 0, columns - 1);
                break;
            case 'J': EraseInDisplay(Mode()); break;
            case 'K': EraseInLine(Mode()); break;
            case 's': saved = (row, column); break;
            case 'u': (row, column) = saved ?? (0, 0); break;
            default: throw new NotSupportedException($"control sequence {sequence} at offset {start}");
        }
        wrapPending = false;
        return i + 1;
    }

    void EraseInLine(int mode)
    {
        var (from, to) = mode switch
        {
            0 => (column, columns),
            1 => (0, column + 1),
            2 => (0, columns),
            _ => throw new NotSupportedException($"erase in line mode {mode}"),
        };
        Array.Fill(screen[row], ' ', from, to - from);
    }

    void EraseInDisplay(int mode)
    {
        switch (mode)
        {
            case 0:
                EraseInLine(0);
                for (int r = row + 1; r < rows; r++) screen[r] = Blank();
                break;
            case 1:
                EraseInLine(1);
                for (int r = 0; r < row; r++) screen[r] = Blank();
                break;
            case 2:
                for (int r = 0; r < rows; r++) screen[r] = Blank();
                break;
            case 3: scrollback.Clear(); break;
            default: throw new NotSupportedException($"erase in display mode {mode}");
        }
    }

    char[] Blank() => Enumerable.Repeat(' ', columns).ToArray();

    static string Text(char[] line) => new string(line).TrimEnd(' ');
}
