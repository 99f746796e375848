using System.Text;

namespace MiniDocker.Cli.Templates;

/// <summary>
/// Go's text/tabwriter with Docker's settings (minwidth 10, padding 3, padded with spaces): tab-terminated cells
/// are aligned in columns; the text after a line's last tab is not part of a column. A column's width is set per
/// block of consecutive lines that have that column, as Go does, so output matches Docker's byte for byte.
/// </summary>
public static class TabWriter
{
    private readonly record struct Cell(string Text, int Width);

    public static string Align(string text, int minWidth = 10, int padding = 3)
    {
        // Each line's cells; the last one is the text after the last tab (or the whole line).
        var lines = text.Split('\n').Select(l => l.Split('\t', '\v').Select(c => new Cell(c, c.EnumerateRunes().Count())).ToArray()).ToList();
        var output = new StringBuilder(text.Length * 2);
        var widths = new List<int>();
        Format(0, lines.Count);
        return output.ToString();

        void Format(int line0, int line1)
        {
            int column = widths.Count;
            for (int current = line0; current < line1; current++)
            {
                if (column >= lines[current].Length - 1) continue;
                // A cell in this column: this line starts a block of lines that all have one.
                WriteLines(line0, current);
                line0 = current;
                int width = minWidth;
                for (; current < line1 && column < lines[current].Length - 1; current++)
                    width = Math.Max(width, lines[current][column].Width + padding);
                widths.Add(width);
                Format(line0, current);
                widths.RemoveAt(widths.Count - 1);
                line0 = current;
                current--; // the loop's increment: resume at the line that ended the block
            }
            WriteLines(line0, line1);
        }

        void WriteLines(int line0, int line1)
        {
            for (int i = line0; i < line1; i++)
            {
                var cells = lines[i];
                for (int j = 0; j < cells.Length; j++)
                {
                    output.Append(cells[j].Text);
                    if (j < widths.Count && j < cells.Length - 1) output.Append(' ', widths[j] - cells[j].Width);
                }
                if (i + 1 < lines.Count) output.Append('\n');
            }
        }
    }
}
