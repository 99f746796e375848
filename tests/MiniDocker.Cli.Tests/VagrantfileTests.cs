using System.Diagnostics;
using System.Text.RegularExpressions;

namespace MiniDocker.Cli.Tests;

/// <summary>The lab VM's Vagrantfile: valid for Vagrant (no hypervisor needed), and provisioned by exactly the
/// commands the README gives.</summary>
public class VagrantfileTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MiniDocker.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    private static string Vagrantfile => File.ReadAllText(Path.Combine(RepoRoot(), "Vagrantfile"));
    private static string Readme => File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));

    /// <summary>A Ruby string constant of the Vagrantfile: NAME = "..." (no interpolation or escapes in it).</summary>
    private static string RubyConstant(string name)
    {
        var m = Regex.Match(Vagrantfile, $"^{name} = \"([^\"\\\\#]*)\"$", RegexOptions.Multiline);
        Assert.True(m.Success, $"Vagrantfile has no {name} = \"...\"");
        return m.Groups[1].Value;
    }

    [Fact]
    public void Provisioning_runs_the_readme_setup_command_exactly()
    {
        // README, "The two commands": the first command of its indented block, before the comment.
        var section = Readme[Readme.IndexOf("## The two commands", StringComparison.Ordinal)..];
        var line = Regex.Match(section, @"^ {4}(bash scripts/setup\.sh[^#\n]*?)\s*(#.*)?$", RegexOptions.Multiline);
        Assert.True(line.Success, "README gives no setup command under 'The two commands'");
        Assert.Equal(line.Groups[1].Value.Trim(), RubyConstant("SETUP_COMMAND"));
        // ... and that constant is what the "setup" provisioner runs, from the synced repository, as root.
        Assert.Contains("vm.provision \"setup\", type: \"shell\", privileged: true, inline: \"cd /vagrant && #{SETUP_COMMAND}\"", Vagrantfile);
        Assert.Contains("vm.synced_folder \".\", \"/vagrant\"", Vagrantfile);
    }

    [Fact]
    public void The_dotnet_repository_step_is_the_readme_one()
    {
        var section = Readme[Readme.IndexOf("## Vagrant lab VM", StringComparison.Ordinal)..];
        var line = Regex.Match(section, @"^(command -v dotnet .*)$", RegexOptions.Multiline);
        Assert.True(line.Success, "README's 'Vagrant lab VM' section gives no .NET repository command");
        Assert.Equal(line.Groups[1].Value.Trim(), RubyConstant("DOTNET_REPO_COMMAND"));
        Assert.Contains("inline: DOTNET_REPO_COMMAND", Vagrantfile);
    }

    [Fact]
    public void Machines_are_debian12_with_2_cpus_and_2GiB_on_both_providers()
    {
        Assert.Equal("debian/bookworm64", RubyConstant("BOX"));
        foreach (var provider in new[] { "virtualbox", "libvirt" })
        {
            var block = Regex.Match(Vagrantfile, $"vm\\.provider \"{provider}\" do \\|(\\w+)\\|(.*?)\\n  end", RegexOptions.Singleline);
            Assert.True(block.Success, $"no {provider} provider block");
            Assert.Contains($"{block.Groups[1].Value}.memory = 2048", block.Groups[2].Value);
            Assert.Contains($"{block.Groups[1].Value}.cpus = 2", block.Groups[2].Value);
        }
        // `vagrant up` alone starts only the lab VM; host1/host2 come with their names, on the private network.
        Assert.Contains("config.vm.define \"lab\", primary: true", Vagrantfile);
        Assert.Contains("config.vm.define name, autostart: false", Vagrantfile);
        Assert.Contains("host.vm.network \"private_network\", ip: ip", Vagrantfile);
    }

    [Fact]
    public void Vagrant_validate_passes_and_lists_the_three_machines()
    {
        string home = Directory.CreateTempSubdirectory("vagrant-home-").FullName;
        try
        {
            var (code, output) = Vagrant(home, "validate");
            Assert.True(code == 0, $"vagrant validate failed: {output}");
            Assert.Contains("Vagrantfile validated successfully", output);
            (code, output) = Vagrant(home, "status");
            Assert.True(code == 0, output);
            foreach (var machine in new[] { "lab", "host1", "host2" })
                Assert.Matches($@"(?m)^{machine}\s+not created", output);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    private static (int Code, string Output) Vagrant(string home, string verb)
    {
        var start = new ProcessStartInfo("vagrant", [verb])
        {
            WorkingDirectory = RepoRoot(), RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.Environment["VAGRANT_HOME"] = home;
        start.Environment["VAGRANT_CHECKPOINT_DISABLE"] = "1";
        // Vagrant keeps per-project state in .vagrant/ beside the Vagrantfile; a test must not leave one behind.
        start.Environment["VAGRANT_DOTFILE_PATH"] = Path.Combine(home, "dotfile");
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "vagrant did not finish");
        return (process.ExitCode, output + error.Result);
    }
}
