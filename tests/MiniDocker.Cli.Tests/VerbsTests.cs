using System.CommandLine;

namespace MiniDocker.Cli.Tests;

/// <summary>The verb table Program builds from: each group answers to exactly the names its commands have, so a
/// command line that names a verb finds the command it would find in the whole tree.</summary>
public sealed class VerbsTests
{
    [Fact]
    public void Each_group_lists_exactly_the_names_and_aliases_of_the_commands_it_makes()
    {
        foreach (var group in Verbs.Groups)
        {
            var made = group.Create().SelectMany(c => c.Aliases.Append(c.Name)).Order(StringComparer.Ordinal);
            Assert.Equal(group.Names.Order(StringComparer.Ordinal), made);
        }
        var all = Verbs.Groups.SelectMany(g => g.Names).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    [Fact]
    public void A_named_verb_builds_only_its_group_and_anything_else_builds_every_verb()
    {
        Assert.Equal(["run"], Verbs.For("run").Select(c => c.Name));
        Assert.Equal(["network", "port"], Verbs.For("port").Select(c => c.Name));
        Assert.Contains("trace", Verbs.For("network").First().Subcommands.Select(c => c.Name));
        int every = Verbs.Groups.Sum(g => g.Create().Count());
        Assert.Equal(every, Verbs.For(null).Count());
        Assert.Equal(every, Verbs.For("bogus").Count());
    }

    [Theory]
    [InlineData("run busybox true", "run")]
    [InlineData("--root /tmp/x -D network ls", "network")]
    [InlineData("--root=/tmp/x --firewall nftables ps -a", "ps")]
    [InlineData("--help", null)]
    [InlineData("--version", null)]
    [InlineData("--bogus run", null)]
    [InlineData("", null)]
    public void The_verb_is_the_first_word_after_the_global_options(string line, string? verb)
    {
        var root = new RootCommand { Globals.Root, Globals.Firewall, Globals.Debug };
        string[] args = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(verb, CommandSplitter.VerbOf(root, args));
    }
}
