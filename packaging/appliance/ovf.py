#!/usr/bin/env python3
"""The HALB appliance's OVF 1.0 descriptor and manifest, and a check of a finished OVA.

  ovf.py write --name NAME --version V --capacity BYTES --populated BYTES --disk NAME-disk1.vmdk --output DIR
      writes DIR/NAME.ovf (one VM: 2 vCPU, 2 GB, the disk on an LSI Logic SCSI controller, one E1000 NIC on the
      network "LAN", the first-boot settings as vApp properties delivered through guestinfo) and DIR/NAME.mf
      (SHA-256 of the descriptor and the disk).
  ovf.py check FILE.ova
      checks what an importer relies on: the tar's order (descriptor first, then manifest), the descriptor's
      structure (envelope, references, disk, network, hardware items that point at them), the sizes (each file's,
      the disk's capacity against the VMDK's header), the VMDK's version (3) and the manifest's sums. Prints what it checked; exits 1 with
      the first problem.
"""
import argparse
import hashlib
import os
import struct
import sys
import tarfile
import xml.etree.ElementTree as ET

OVF = "http://schemas.dmtf.org/ovf/envelope/1"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VMW = "http://www.vmware.com/schema/ovf"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
STREAM_OPTIMIZED = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"

# The first-boot settings (halb appliance configure --ovf-env): key, label, description.
PROPERTIES = [
    ("halb.hostname", "Host name", "This appliance's host name, e.g. lb1."),
    ("halb.name", "Device name", "Its name in the console (default: the host name's first label)."),
    ("halb.address", "Address", "dhcp, or a static address with its prefix: 192.0.2.11/24 (and an IPv6 one, "
     "comma separated)."),
    ("halb.gateway", "Default gateway", "With a static address: the router's address."),
    ("halb.dns", "DNS servers", "With a static address: up to three, comma separated."),
    ("halb.console", "Console URL", "The HALB console, e.g. https://console.example.net:8443."),
    ("halb.console_ca_sha256", "Console CA SHA-256 fingerprint",
     "The SHA-256 fingerprint of the console's CA certificate (the console's own for a self-signed one)."),
    ("halb.join_token", "Join token", "A one-time join token from the console (halb join-tokens create)."),
]


def element(parent, tag, attributes=None, text=None):
    node = ET.SubElement(parent, tag, attributes or {})
    if text is not None:
        node.text = text
    return node


def item(section, fields):
    """A hardware item; CIM wants its rasd: elements in alphabetical order."""
    node = element(section, f"{{{OVF}}}Item")
    for key in sorted(fields):
        element(node, f"{{{RASD}}}{key}", text=str(fields[key]))


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write(args):
    for prefix, uri in (("ovf", OVF), ("rasd", RASD), ("vssd", VSSD), ("vmw", VMW), ("xsi", XSI)):
        ET.register_namespace(prefix, uri)
    disk_file = os.path.basename(args.disk)
    o = lambda name: f"{{{OVF}}}{name}"  # noqa: E731
    envelope = ET.Element(o("Envelope"), {f"{{{VMW}}}buildId": f"halb-{args.version}"})
    references = element(envelope, o("References"))
    element(references, o("File"), {o("href"): disk_file, o("id"): "file1", o("size"): str(os.path.getsize(args.disk))})
    disks = element(envelope, o("DiskSection"))
    element(disks, o("Info"), text="The appliance's disk")
    element(disks, o("Disk"), {
        o("capacity"): str(args.capacity), o("capacityAllocationUnits"): "byte", o("diskId"): "vmdisk1",
        o("fileRef"): "file1", o("format"): STREAM_OPTIMIZED, o("populatedSize"): str(args.populated),
    })
    networks = element(envelope, o("NetworkSection"))
    element(networks, o("Info"), text="The logical networks")
    network = element(networks, o("Network"), {o("name"): "LAN"})
    element(network, o("Description"), text="The network of the VIPs, the gateways and the console")

    system = element(envelope, o("VirtualSystem"), {o("id"): args.name})
    element(system, o("Info"), text="A HALB load-balancer appliance")
    element(system, o("Name"), text="HALB appliance")
    product = element(system, o("ProductSection"), {o("required"): "false"})
    element(product, o("Info"), text="The appliance's first-boot settings (leave them empty to use the wizard)")
    element(product, o("Product"), text="HALB appliance")
    element(product, o("Vendor"), text="HALB developers")
    element(product, o("Version"), text=args.version)
    element(product, o("FullVersion"), text=args.version)
    element(product, o("Category"), text="First boot")
    for key, label, description in PROPERTIES:
        attributes = {o("key"): key, o("type"): "string", o("userConfigurable"): "true", o("value"): ""}
        if key == "halb.join_token":
            attributes[o("password")] = "true"
        prop = element(product, o("Property"), attributes)
        element(prop, o("Label"), text=label)
        element(prop, o("Description"), text=description)
    os_section = element(system, o("OperatingSystemSection"), {o("id"): "96", f"{{{VMW}}}osType": "debian11_64Guest"})
    element(os_section, o("Info"), text="The guest operating system")
    element(os_section, o("Description"), text="Debian GNU/Linux 12 (64-bit)")
    hardware = element(system, o("VirtualHardwareSection"), {o("transport"): "com.vmware.guestInfo"})
    element(hardware, o("Info"), text="2 vCPU, 2 GB of memory, one disk, one network adapter")
    vs = element(hardware, o("System"))
    element(vs, f"{{{VSSD}}}ElementName", text="Virtual Hardware Family")
    element(vs, f"{{{VSSD}}}InstanceID", text="0")
    element(vs, f"{{{VSSD}}}VirtualSystemIdentifier", text=args.name)
    element(vs, f"{{{VSSD}}}VirtualSystemType", text="vmx-13")
    item(hardware, {"AllocationUnits": "hertz * 10^6", "Description": "Number of virtual CPUs",
                    "ElementName": "2 virtual CPUs", "InstanceID": 1, "ResourceType": 3, "VirtualQuantity": 2})
    item(hardware, {"AllocationUnits": "byte * 2^20", "Description": "Memory size",
                    "ElementName": "2048 MB of memory", "InstanceID": 2, "ResourceType": 4, "VirtualQuantity": 2048})
    item(hardware, {"Address": 0, "Description": "SCSI controller", "ElementName": "SCSI controller 0",
                    "InstanceID": 3, "ResourceSubType": "lsilogic", "ResourceType": 6})
    item(hardware, {"AddressOnParent": 0, "ElementName": "Hard disk 1", "HostResource": "ovf:/disk/vmdisk1",
                    "InstanceID": 4, "Parent": 3, "ResourceType": 17})
    item(hardware, {"AddressOnParent": 7, "AutomaticAllocation": "true", "Connection": "LAN",
                    "Description": "E1000 ethernet adapter on LAN", "ElementName": "Network adapter 1",
                    "InstanceID": 5, "ResourceSubType": "E1000", "ResourceType": 10})
    # The disk boots with BIOS (GRUB in its MBR): say so, as newer ESXi may pick EFI for a Debian guest otherwise.
    element(hardware, f"{{{VMW}}}Config", {o("required"): "false", f"{{{VMW}}}key": "firmware", f"{{{VMW}}}value": "bios"})
    ET.indent(envelope)
    descriptor = os.path.join(args.output, f"{args.name}.ovf")
    ET.ElementTree(envelope).write(descriptor, encoding="UTF-8", xml_declaration=True)
    with open(os.path.join(args.output, f"{args.name}.mf"), "w") as manifest:
        manifest.write(f"SHA256({args.name}.ovf)= {sha256(descriptor)}\n")
        manifest.write(f"SHA256({disk_file})= {sha256(args.disk)}\n")


class Problem(Exception):
    pass


def require(condition, message):
    if not condition:
        raise Problem(message)


def check(args):
    checked = []
    with tarfile.open(args.ova, "r:") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        require(len(names) >= 3, f"the OVA holds {names}: want a descriptor, a manifest and a disk")
        require(names[0].endswith(".ovf"), f"the first file is {names[0]!r}, not the descriptor (.ovf)")
        require(names[1].endswith(".mf"), f"the second file is {names[1]!r}, not the manifest (.mf)")
        require(all(m.isfile() and "/" not in m.name for m in members), f"the OVA has directories or links: {names}")
        checked.append("the tar's order: descriptor, manifest, disk")
        data = {m.name: tar.extractfile(m).read() for m in members}
    sizes = {name: len(content) for name, content in data.items()}

    root = ET.fromstring(data[names[0]])
    o = lambda name: f"{{{OVF}}}{name}"  # noqa: E731
    require(root.tag == o("Envelope"), f"the root element is {root.tag}, not the OVF 1.0 Envelope")
    sections = [child.tag for child in root]
    require(sections[:3] == [o("References"), o("DiskSection"), o("NetworkSection")],
            f"the envelope's sections are {sections}: want References, DiskSection, NetworkSection, VirtualSystem")
    files = {f.get(o("id")): f for f in root.find(o("References"))}
    for file_id, file in files.items():
        href = file.get(o("href"))
        require(href in sizes, f"References/File {file_id} names {href!r}, which is not in the OVA")
        require(int(file.get(o("size"))) == sizes[href],
                f"References/File {href}: size {file.get(o('size'))}, the file has {sizes[href]} bytes")
    checked.append(f"references: {len(files)} file(s), sizes match")
    disks = {}
    for disk in root.find(o("DiskSection")).findall(o("Disk")):
        file = files.get(disk.get(o("fileRef")))
        require(file is not None, f"Disk {disk.get(o('diskId'))}: fileRef {disk.get(o('fileRef'))!r} is not a File")
        require(disk.get(o("format")) == STREAM_OPTIMIZED, f"Disk format {disk.get(o('format'))}: not streamOptimized")
        content = data[file.get(o("href"))]
        require(content[:4] == b"KDMV", f"{file.get(o('href'))} is not a VMDK (magic {content[:4]!r})")
        # ESXi refuses a streamOptimized VMDK that does not say version 3 ("sparse VMDK version too old").
        version = struct.unpack_from("<I", content, 4)[0]
        require(version == 3, f"{file.get(o('href'))}: VMDK version {version}, ESXi wants 3 for streamOptimized")
        sectors = struct.unpack_from("<Q", content, 12)[0]
        units = disk.get(o("capacityAllocationUnits"), "byte")
        require(units == "byte", f"Disk capacityAllocationUnits {units!r}: this check knows bytes")
        require(int(disk.get(o("capacity"))) == sectors * 512,
                f"Disk capacity {disk.get(o('capacity'))}: the VMDK says {sectors * 512} bytes")
        disks[disk.get(o("diskId"))] = disk
    require(disks, "no Disk in DiskSection")
    checked.append(f"disks: {len(disks)}, VMDK version 3, capacity matches its header ({sectors * 512} bytes)")
    network_names = {n.get(o("name")) for n in root.find(o("NetworkSection")).findall(o("Network"))}
    system = root.find(o("VirtualSystem"))
    require(system is not None and system.get(o("id")), "no VirtualSystem with an id")
    hardware = system.find(o("VirtualHardwareSection"))
    require(hardware is not None, "no VirtualHardwareSection")
    items = [{child.tag.split("}")[1]: (child.text or "") for child in i} for i in hardware.findall(o("Item"))]
    kinds = {i.get("ResourceType") for i in items}
    require({"3", "4", "10", "17"} <= kinds, f"hardware resource types {sorted(kinds)}: want CPU, memory, NIC, disk")
    instance_ids = [i.get("InstanceID") for i in items]
    require(len(set(instance_ids)) == len(instance_ids), f"duplicate InstanceIDs: {instance_ids}")
    for i in items:
        require(list(i) == sorted(i), f"item {i.get('InstanceID')}: rasd elements out of order: {list(i)}")
        if i.get("ResourceType") == "17":
            reference = i.get("HostResource", "")
            require(reference.startswith("ovf:/disk/") and reference[len("ovf:/disk/"):] in disks,
                    f"disk item {i.get('InstanceID')}: HostResource {reference!r} names no Disk")
            require(i.get("Parent") in instance_ids, f"disk item: Parent {i.get('Parent')!r} is not an item")
        if i.get("ResourceType") == "10":
            require(i.get("Connection") in network_names,
                    f"network item: Connection {i.get('Connection')!r} is not a Network ({sorted(network_names)})")
    checked.append(f"hardware: {len(items)} items, the disk and the NIC point at their sections")
    keys = [p.get(o("key")) for p in system.iter(o("Property"))]
    require(keys == [key for key, _, _ in PROPERTIES], f"vApp properties {keys}: want {[k for k, _, _ in PROPERTIES]}")
    require(hardware.get(o("transport")) == "com.vmware.guestInfo", "the properties are not delivered by guestinfo")
    checked.append(f"vApp properties: {len(keys)}, through guestinfo")

    manifest = {}
    for line in data[names[1]].decode().splitlines():
        algorithm_and_name, _, digest = line.partition(")= ")
        algorithm, _, name = algorithm_and_name.partition("(")
        require(algorithm == "SHA256", f"manifest line {line!r}: want SHA256(file)= digest")
        manifest[name] = digest
    for name in names:
        if name == names[1]:
            continue
        require(name in manifest, f"the manifest has no sum for {name}")
        actual = hashlib.sha256(data[name]).hexdigest()
        require(manifest[name] == actual, f"manifest: {name} has SHA-256 {actual}, the manifest says {manifest[name]}")
    checked.append(f"manifest: SHA-256 of {len(manifest)} files match")
    for line in checked:
        print(f"ok: {line}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    w = commands.add_parser("write")
    w.add_argument("--name", required=True)
    w.add_argument("--version", required=True)
    w.add_argument("--capacity", type=int, required=True)
    w.add_argument("--populated", type=int, required=True)
    w.add_argument("--disk", required=True)
    w.add_argument("--output", required=True)
    c = commands.add_parser("check")
    c.add_argument("ova")
    args = parser.parse_args()
    if args.command == "write":
        write(args)
    else:
        try:
            check(args)
        except Problem as problem:
            print(f"FAIL: {problem}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
