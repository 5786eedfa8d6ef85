namespace GspoSharp.Tests.Cli;

/// <summary>The terminal emulator the live-display tests read the screen with, against screens worked out by hand (xterm behaviour).</summary>
public class VirtualTerminalTests
{
    const string Esc = "\u001b";

    [Fact]
    public void Lines_scroll_into_the_scrollback()
    {
        var t = new VirtualTerminal(10, 3).Write("one\r\ntwo\r\nthree\r\nfour");
        Assert.Equal(new[] { "two", "three", "four" }, t.Screen);
        Assert.Equal(new[] { "one", "two", "three", "four" }, t.Transcript);
        Assert.Equal((2, 4), t.Cursor);
    }

    [Fact]
    public void A_full_row_wraps_only_when_the_next_character_comes()
    {
        // Exactly 5 characters on a 5-column row, then CR LF: one row, not an extra empty one.
        var t = new VirtualTerminal(5, 4).Write("abcde\r\nf");
        Assert.Equal(new[] { "abcde", "f" }, t.Transcript);
        // A sixth character goes to the next row; colours in between do not cancel the pending wrap.
        t = new VirtualTerminal(5, 4).Write($"abcde{Esc}[0mfg");
        Assert.Equal(new[] { "abcde", "fg" }, t.Transcript);
        // A carriage return does: the row is written again from its start.
        t = new VirtualTerminal(5, 4).Write("abcde\rX");
        Assert.Equal(new[] { "Xbcde" }, t.Transcript);
    }

    [Fact]
    public void A_live_display_redraws_in_place_and_lines_written_above_it_stay()
    {
        // What Spectre.Console writes: the display, then (cursor back to its top) a line above it and the display again.
        var t = new VirtualTerminal(20, 10)
            .Write($"{Esc}[?25l" + "bar  10%\r\nbar2  0%")
            .Write($"\r{Esc}[1A" + "[save] step 1\r\n" + "bar  20%\r\nbar2  5%")
            .Write($"\r{Esc}[1A" + "bar  30%\r\nbar2 10%")
            .Write($"\r\n{Esc}[?25h");
        Assert.Equal(new[] { "[save] step 1", "bar  30%", "bar2 10%" }, t.Transcript);
        Assert.True(t.CursorVisible);
        Assert.False(new VirtualTerminal(5, 2).Write($"{Esc}[?25l").CursorVisible);
    }

    [Fact]
    public void Cursor_up_stops_at_the_top_row_and_does_not_reach_the_scrollback()
    {
        var t = new VirtualTerminal(10, 2).Write("a\r\nb\r\nc").Write($"{Esc}[5AX");
        Assert.Equal(new[] { "a", "bX", "c" }, t.Transcript);
    }

    [Fact]
    public void Erasing_and_positioning()
    {
        var t = new VirtualTerminal(8, 3).Write("abcdefgh\r\n12345678\r\nxyz");
        Assert.Equal(new[] { "abcd", "12345678", "xyz" }, t.Write($"{Esc}[1;5H{Esc}[K").Screen);       // to the end of the row
        Assert.Equal(new[] { "abcd", "    5678", "xyz" }, t.Write($"{Esc}[2;4H{Esc}[1K").Screen);     // to the cursor, inclusive
        Assert.Equal(new[] { "abcd", "", "xyz" }, t.Write($"{Esc}[2K").Screen);                       // the whole row
        Assert.Equal(new[] { "abcd", "  Q", "xyz" }, t.Write($"{Esc}[3GQ").Screen);                   // column 3
        Assert.Equal(new[] { "abcd", "  Q", "x" }, t.Write($"{Esc}[B{Esc}[2D{Esc}[J").Screen);        // down, left, then to the end of the screen
        Assert.Equal(new[] { "", "", "" }, t.Write($"{Esc}[2J").Screen);
    }

    [Fact]
    public void Clearing_the_screen_and_scrollback_leaves_only_what_follows()
    {
        var t = new VirtualTerminal(10, 2).Write("a\r\nb\r\nc\r\nd");
        Assert.Equal(new[] { "a", "b", "c", "d" }, t.Transcript);
        t.Write($"{Esc}[2J{Esc}[3J{Esc}[Hnew");
        Assert.Equal(new[] { "new" }, t.Transcript);
    }

    [Fact]
    public void Modes_titles_and_keypad_switches_draw_nothing()
    {
        var t = new VirtualTerminal(10, 2).Write($"{Esc}[?1h{Esc}={Esc}]0;title\a{Esc}]8;;http://x{Esc}\\link{Esc}]8;;{Esc}\\{Esc}[1;38;5;12mok{Esc}[0m{Esc}>");
        Assert.Equal(new[] { "linkok" }, t.Transcript);
    }

    [Theory]
    [InlineData("\u001b[6n")]      // a device status request: it would need an answer
    [InlineData("\u001b[2;5r")]    // scrolling margins
    [InlineData("\u001bc")]        // full reset
    [InlineData("\u001b[5")]       // cut off
    [InlineData("\u0001")]         // a control character
    public void Anything_else_is_refused_rather_than_misread(string sequence) =>
        Assert.Throws<NotSupportedException>(() => new VirtualTerminal(10, 2).Write("ab" + sequence));
}
