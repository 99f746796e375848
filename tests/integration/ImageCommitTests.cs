namespace MiniDocker.IntegrationTests;

/// <summary>`commit`: a container's changes, deletions included, become a layer of a new image.</summary>
public sealed class ImageCommitTests : IDisposable
{
    private readonly MiniDocker _md = new();

    public void Dispose() => _md.Dispose();

    [Fact]
    public void A_file_added_and_one_deleted_are_there_and_gone_in_the_committed_image()
    {
        var name = "commit-" + Guid.NewGuid().ToString("N")[..8];
        var run = _md.Run("run", "--name", name, "--net", "none", "busybox", "sh", "-c",
            "echo added > /added.txt; rm /bin/ls; mkdir -p /data; echo lower > /data/old; true");
        Assert.True(run.ExitCode == 0, run.ToString());
        var commit = _md.Run("commit", "-m", "first", "-c", "ENV FROM_COMMIT=yes", name, "committed:1");
        Assert.True(commit.ExitCode == 0, commit.ToString());
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", commit.Stdout);

        var check = _md.Run("run", "--rm", "--net", "none", "committed:1", "sh", "-c",
            "cat /added.txt; test -e /bin/ls && echo LS-STILL-THERE; echo $FROM_COMMIT; cat /data/old");
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Equal("added\nyes\nlower\n", check.Stdout);

        // A second generation on top: a directory replaced (opaque) and the earlier file deleted.
        var second = name + "-2";
        Assert.Equal(0, _md.Run("run", "--name", second, "--net", "none", "committed:1", "sh", "-c",
            "rm -rf /data; mkdir /data; echo new > /data/only; rm /added.txt").ExitCode);
        Assert.Equal(0, _md.Run("commit", second, "committed:2").ExitCode);
        var check2 = _md.Run("run", "--rm", "--net", "none", "committed:2", "sh", "-c", "ls /data; test -e /added.txt && echo ADDED-STILL-THERE; true");
        Assert.Equal("only\n", check2.Stdout);
        Assert.Contains("first", _md.Run("history", "committed:1").Stdout);

        Assert.Equal(0, _md.Run("rm", "-f", name, second).ExitCode);
    }

    [Fact]
    public void A_userns_container_commits_the_ids_it_saw_not_its_host_range()
    {
        var name = "commit-uns-" + Guid.NewGuid().ToString("N")[..8];
        var run = _md.Run("run", "--name", name, "--net", "none", "--userns=auto", "busybox", "sh", "-c",
            "echo r > /root-file && mkdir -p /home/u && echo u > /home/u/f && chown -R 1000:1000 /home/u");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(0, _md.Run("commit", name, "committed-uns:1").ExitCode);
        // Run without a user namespace: the owners are the ones the userns container saw, not 100000 and up.
        var check = _md.Run("run", "--rm", "--net", "none", "committed-uns:1", "stat", "-c", "%u %g %n", "/root-file", "/home/u", "/home/u/f", "/bin/busybox");
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Equal("0 0 /root-file\n1000 1000 /home/u\n1000 1000 /home/u/f\n0 0 /bin/busybox\n", check.Stdout);
        Assert.Equal(0, _md.Run("rm", name).ExitCode);
    }

    [Fact]
    public void A_running_container_is_refused_in_one_line()
    {
        var name = "commit-run-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, _md.Run("run", "-d", "--name", name, "--net", "none", "busybox", "sleep", "60").ExitCode);
        try
        {
            var commit = _md.Run("commit", name, "nope:1");
            Assert.NotEqual(0, commit.ExitCode);
            Assert.Contains("is running", commit.Stderr);
            Assert.Single(commit.Stderr.Trim().Split('\n'));
        }
        finally
        {
            _md.Run("rm", "-f", name);
        }
    }
}

/// <summary>`export`: the merged filesystem of a stopped container, deletions applied, importable again.</summary>
public sealed class ContainerExportTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _work = Path.Combine(Path.GetTempPath(), "mdk-export-" + Guid.NewGuid().ToString("N")[..10]);

    public ContainerExportTests() => Directory.CreateDirectory(_work);

    public void Dispose()
    {
        _md.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public void Export_writes_the_merged_tree_without_deleted_files_and_it_imports_and_runs()
    {
        var name = "export-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, _md.Run("run", "--name", name, "--net", "none", "busybox", "sh", "-c",
            "echo added > /added.txt; rm /bin/ls").ExitCode);
        var file = Path.Combine(_work, "fs.tar");
        var export = _md.Run("export", name, "-o", file);
        Assert.True(export.ExitCode == 0, export.ToString());

        var psi = new System.Diagnostics.ProcessStartInfo("tar", ["-tf", file]) { RedirectStandardOutput = true };
        using var tar = System.Diagnostics.Process.Start(psi)!;
        var names = tar.StandardOutput.ReadToEnd().Split('\n');
        tar.WaitForExit();
        Assert.Contains("added.txt", names);
        Assert.Contains("bin/sh", names);
        Assert.DoesNotContain("bin/ls", names);
        Assert.DoesNotContain(names, n => n.Contains(".wh."));

        Assert.Equal(0, _md.Run("image", "import", file, "exported").ExitCode);
        Assert.Equal("added\n", _md.Run("run", "--rm", "--net", "none", "exported", "cat", "/added.txt").Stdout);
        _md.Run("rm", "-f", name);
    }

    [Fact]
    public void A_userns_containers_export_holds_the_ids_it_saw()
    {
        var name = "export-uns-" + Guid.NewGuid().ToString("N")[..8];
        var run = _md.Run("run", "--name", name, "--net", "none", "--userns=auto", "busybox", "sh", "-c",
            "echo r > /root-file && mkdir -p /home/u && echo u > /home/u/f && chown -R 1000:1000 /home/u");
        Assert.True(run.ExitCode == 0, run.ToString());
        var file = Path.Combine(_work, "uns.tar");
        var export = _md.Run("export", name, "-o", file);
        Assert.True(export.ExitCode == 0, export.ToString());

        var owners = new Dictionary<string, (int, int)>();
        using (var reader = new System.Formats.Tar.TarReader(File.OpenRead(file)))
            while (reader.GetNextEntry() is { } entry)
                owners[entry.Name] = (entry.Uid, entry.Gid);
        Assert.Equal((0, 0), owners["root-file"]);
        Assert.Equal((1000, 1000), owners["home/u/"]);
        Assert.Equal((1000, 1000), owners["home/u/f"]);
        // /home itself was copied up into the upper directory by the mkdir; /bin/busybox is the image's, below.
        Assert.Equal((0, 0), owners["home/"]);
        Assert.Equal((0, 0), owners["bin/busybox"]);
        Assert.DoesNotContain(owners.Values, o => o.Item1 >= 65536 || o.Item2 >= 65536);
        _md.Run("rm", "-f", name);
    }
}
