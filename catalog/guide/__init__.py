"""The guide (EPG): sources, the XMLTV reader, imports, programmes and the players' grid."""
