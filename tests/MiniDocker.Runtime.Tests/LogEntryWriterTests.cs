using System.Text;
using MiniDocker.Runtime;

namespace MiniDocker.Runtime.Tests;

/// <summary>The relay writes json-file entries by hand; `logs` reads them with System.Text.Json. They must agree.</summary>
public class LogEntryWriterTests
{
    private static readonly DateTime Time = new(2026, 11, 30, 3, 14, 35, DateTimeKind.Utc);

    private static string Format(string stream, byte[] text, DateTime? time = null) =>
        Encoding.UTF8.GetString(new LogEntryWriter().Format(stream, text, time ?? Time.AddTicks(1234567)));

    [Fact]
    public void AnEntryIsDockersJsonFileLine()
    {
        Assert.Equal("{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-30T03:14:35.1234567Z\"}\n",
            Format("stdout", "hello\n"u8.ToArray()));
    }

    [Theory]
    [InlineData("quote \" backslash \\ tab \t cr \r bell \a end\n")]
    [InlineData("unicode é 日本 🐳\n")]
    [InlineData("{\"log\":\"not a nested entry\"}")]
    [InlineData("")]
    public void WhatTheProgramWroteComesBackThroughTheReader(string text)
    {
        string line = Format("stderr", Encoding.UTF8.GetBytes(text));
        Assert.EndsWith("\n", line);
        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var parsed = Assert.Single(ContainerLog.Parse([line.TrimEnd('\n')]));
        Assert.Equal(text, parsed.Text);
        Assert.Equal("stderr", parsed.Stream);
        Assert.Equal(Time.AddTicks(1234567), parsed.Time.UtcDateTime);
    }

    [Fact]
    public void BytesThatAreNotUtf8BecomeReplacementCharacters_TheLineStaysValidJson()
    {
        string line = Format("stdout", [0xff, 0xfe, (byte)'o', (byte)'k', (byte)'\n']);
        var parsed = Assert.Single(ContainerLog.Parse([line.TrimEnd('\n')]));
        Assert.Equal("\uFFFD\uFFFDok\n", parsed.Text);
    }

    [Fact]
    public void TimesKeepLeadingZeros()
    {
        Assert.Contains("\"time\":\"0987-01-02T03:04:05.0000009Z\"", Format("stdout", "x"u8.ToArray(), new DateTime(987, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(9)));
    }
}
