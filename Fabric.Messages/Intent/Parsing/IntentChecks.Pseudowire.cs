namespace Fabric.Messages.Intent.Parsing;

internal static partial class IntentChecks
{
    private static void CheckPseudowires(IntentDocument document, ReadContext context)
    {
        var pes = Unique(context, document.Pes, p => p.Name, "name", "pe", "pes");
        Unique(context, document.Pes, p => p.RouterId.ToString(), "routerId", "router id");
        var circuits = new Dictionary<PeIntent, Known<AttachmentCircuitIntent>>(ReferenceEqualityComparer.Instance);
        foreach (var pe in document.Pes)
            circuits[pe] = Unique(context, pe.AttachmentCircuits, a => a.Name, "name", "attachment circuit", context.Origin(pe).PathOf("attachmentCircuits"));

        var pws = Unique(context, document.Pws, p => p.Name, "name", "pw", "pws");
        foreach (var pw in document.Pws)
        {
            if (pes.Lacks(pw.Pe)) context.ErrorAt(pw, "pe", $"unknown pe '{pw.Pe}'");
            if (pes.Lacks(pw.RemotePe)) context.ErrorAt(pw, "remotePe", $"unknown pe '{pw.RemotePe}'");
            else if (pw.RemotePe == pw.Pe) context.ErrorAt(pw, "remotePe", $"a pw needs a remote pe other than its own ('{pw.Pe}')");
        }

        // The local label is how the PE tells its PWs apart on receive: unique per PE.
        foreach (var group in document.Pws.GroupBy(p => p.Pe))
            Unique(context, group, p => p.LocalLabel.ToString(System.Globalization.CultureInfo.InvariantCulture), "localLabel", "local label", duplicate: (label, line) =>
                $"local label {label} is already used on pe '{group.Key}' (first at line {line})");

        CheckLabelPairs(document, context, pes, pws);

        Unique(context, document.Trunks, t => t.Name, "name", "trunk");
        var trunkOfPw = new Dictionary<string, TrunkIntent>();
        var trunkOfAc = new Dictionary<(string, string), TrunkIntent>();
        foreach (var trunk in document.Trunks)
        {
            if (!pes.TryGetValue(trunk.Pe, out var pe))
            {
                if (pes.Lacks(trunk.Pe)) context.ErrorAt(trunk, "pe", $"unknown pe '{trunk.Pe}'");
            }
            else if (!context.HasFailed(context.Origin(trunk).PathOf("attachmentCircuit")))
            {
                if (circuits[pe].Lacks(trunk.AttachmentCircuit))
                    context.ErrorAt(trunk, "attachmentCircuit", $"unknown attachment circuit '{trunk.AttachmentCircuit}' on pe '{pe.Name}'");
                else if (trunkOfAc.TryGetValue((pe.Name, trunk.AttachmentCircuit), out var other))
                    context.ErrorAt(trunk, "attachmentCircuit", $"attachment circuit '{trunk.AttachmentCircuit}' already feeds trunk '{other.Name}'");
                else
                    trunkOfAc[(pe.Name, trunk.AttachmentCircuit)] = trunk;
            }

            for (var i = 0; i < trunk.Members.Length; i++)
            {
                var member = trunk.Members[i];
                if (member.Length == 0 || trunk.Members.IndexOf(member) < i) continue;
                if (!pws.TryGetValue(member, out var pw))
                {
                    if (pws.Lacks(member)) context.ErrorAtItem(trunk, "members", i, $"unknown pw '{member}'");
                }
                else if (pw.Pe != trunk.Pe && pes.Contains(trunk.Pe) && pes.Contains(pw.Pe))
                {
                    context.ErrorAtItem(trunk, "members", i, $"pw '{member}' belongs to pe '{pw.Pe}', not to the trunk's pe '{trunk.Pe}'");
                }
                else if (trunkOfPw.TryGetValue(member, out var other))
                {
                    context.ErrorAtItem(trunk, "members", i, $"pw '{member}' is already a member of trunk '{other.Name}'");
                }
                else
                {
                    trunkOfPw[member] = trunk;
                }
            }
        }
    }

    /// <summary>
    /// Statically configured labels must pair up, or the remote PE drops what we send it: a PW's
    /// remote label is the local label of a PW on the remote PE pointing back. Skipped where a
    /// PW that failed to read could be the missing partner.
    /// </summary>
    private static void CheckLabelPairs(IntentDocument document, ReadContext context, Known<PeIntent> pes, Known<PwIntent> pws)
    {
        static string Describe(int? mtu) => mtu?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(unset)";
        var mtuReported = new HashSet<PwIntent>(ReferenceEqualityComparer.Instance); // one error per pair, at its first pw
        bool Failed(PwIntent p, string field) => context.HasFailed(context.Origin(p).PathOf(field));
        if (pws.Incomplete || document.Pws.Any(p => Failed(p, "pe"))) return;
        var unsure = document.Pws.Where(p => Failed(p, "remotePe") || Failed(p, "localLabel")).Select(p => p.Pe).ToHashSet();
        // The first PW (in document order) of each (pe, remote pe, local label): one look-up per
        // PW instead of a scan of all of them (2,000 PWs made that 4 million comparisons).
        var byLabel = new Dictionary<(string Pe, string RemotePe, uint LocalLabel), PwIntent>();
        foreach (var p in document.Pws) byLabel.TryAdd((p.Pe, p.RemotePe, p.LocalLabel), p);
        foreach (var pw in document.Pws)
        {
            if (unsure.Contains(pw.RemotePe) || pw.RemotePe == pw.Pe || !pes.Contains(pw.RemotePe)
                || Failed(pw, "remoteLabel") || Failed(pw, "remotePe"))
                continue;
            var reverse = byLabel.GetValueOrDefault((pw.RemotePe, pw.Pe, pw.RemoteLabel));
            if (reverse is null)
                context.ErrorAt(pw, "remoteLabel", $"no pw on pe '{pw.RemotePe}' towards '{pw.Pe}' has local label {pw.RemoteLabel}");
            else if (reverse.Mtu != pw.Mtu && !Failed(pw, "mtu") && !Failed(reverse, "mtu") && mtuReported.Add(pw) && mtuReported.Add(reverse))
                // LDP brings a PW up only when both ends signal the same interface MTU (RFC 4447 §5.1).
                context.ErrorAt(pw, pw.Mtu is null ? "name" : "mtu",
                    $"mtu {Describe(pw.Mtu)} differs from {Describe(reverse.Mtu)} on pw '{reverse.Name}', its other end: both ends of a pw must have the same mtu");
        }
    }
}
