module keywheel.example/goserver

go 1.19
